import t from 'tap';
import { crashScenario } from './crash-scenario.ts';

t.test('300 sales in flight on SQLite survive a server SIGKILLed and restarted three times (must-show 3)', async (t) => {
  await crashScenario(t, { transactions: 300, crashes: 3 });
});
