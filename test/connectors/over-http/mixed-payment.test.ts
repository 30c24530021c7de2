import t from 'tap';
import { suiteOverHttp } from './run-suite.ts';

suiteOverHttp(t, 'mixed-payment');
