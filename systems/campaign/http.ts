import type { HttpConnector } from '../http/connector.ts';
import type { CampaignPort } from './port.ts';

/** The campaign system over HTTP (docs/callee-contract.md). */
export class CampaignHttp implements CampaignPort {
  constructor(private readonly c: HttpConnector) {}
  reward: CampaignPort['reward'] = (key, req) => this.c.mutate('reward', key, req);
  reverse: CampaignPort['reverse'] = (key, req) => this.c.mutate('reverse', key, req);
}
