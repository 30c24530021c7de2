/**
 * The fixed lines of each channel's bill, shared by the gateway simulator that writes them and the
 * parsers that read them (docs/reconciliation-bills.md).
 */

/** The WeChat Pay v3 trade bill's header row (bill_type=ALL), 27 columns. */
export const WECHAT_HEADER = [
  '交易时间', '公众账号ID', '商户号', '特约商户号', '设备号', '微信订单号', '商户订单号', '用户标识',
  '交易类型', '交易状态', '付款银行', '货币种类', '应结订单金额', '代金券金额', '微信退款单号',
  '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包', '手续费',
  '费率', '订单金额', '申请退款金额', '费率备注',
] as const;

/** The WeChat bill's summary header, followed by one row of values. */
export const WECHAT_SUMMARY_HEADER = ['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额'] as const;

/** The Alipay `trade` bill's 业务明细 columns, 25 of them. */
export const ALIPAY_HEADER = [
  '支付宝交易号', '商户订单号', '业务类型', '商品名称', '创建时间', '完成时间', '门店编号', '门店名称', '操作员', '终端号',
  '对方账户', '订单金额（元）', '商家实收（元）', '支付宝红包（元）', '集分宝（元）', '支付宝优惠（元）', '商家优惠（元）',
  '券核销金额（元）', '券名称', '商家红包消费金额（元）', '卡消费金额（元）', '退款批次号/请求号', '服务费（元）', '分润（元）', '备注',
] as const;

export const ALIPAY_LIST_START = '#-----------------------------------------业务明细列表----------------------------------------';
export const ALIPAY_LIST_END = '#-----------------------------------------业务明细列表结束------------------------------------';

/** The documented CSV of UnionPay and senseless bills: its column row. */
export const CSV_HEADER = ['kind', 'time', 'merchant_ref', 'payment_no', 'channel_ref', 'channel_trade_no', 'merchant_id', 'status', 'amount', 'fee'] as const;
