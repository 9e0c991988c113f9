/**
 * Wire a fresh simulator into the SDK client factory (lib/aws/clients.ts) — for tests and scenarios
 * that call AWS through the real SDK clients (`ecsClient().send(...)`).
 */
import { configureClients, resetClients } from '../../aws/clients';
import { SimClock } from '../clock';
import { Simulator, type SimulatorOptions } from './index';

export interface ConnectedSimulator {
  readonly sim: Simulator;
  readonly clock: SimClock;
  /** Point the SDK clients back at AWS defaults (`resetClients()`). */
  close(): void;
}

/**
 * Create a simulator on a frozen clock (`timeScale: 0`: time moves only with `clock.advance`) and
 * route every client from lib/aws/clients.ts to it (region us-east-1, dummy credentials).
 * @param opts simulator options; `clock` @default a frozen SimClock
 */
export function connectSimulator(opts: Partial<SimulatorOptions> = {}): ConnectedSimulator {
  const clock = opts.clock ?? new SimClock({ timeScale: 0 });
  const sim = new Simulator({ ...opts, clock });
  configureClients({ transport: sim, region: sim.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  return { sim, clock, close: resetClients };
}
