import type { Alert } from '../domain/alerts.ts';
import type { Cli } from './context.ts';

/**
 * The open alerts that concern this machine's tenant (the fleet's and its own), for `snappy
 * status`: from the Worker (GET /v1/whoami) in Worker mode, from the remote's alert record in
 * direct mode. Null when there is no way to ask (no key in Worker mode, a remote not there yet,
 * a Worker too old to say); the reason goes in `why`.
 */
export async function tenantAlerts(cli: Cli): Promise<{ alerts: Alert[] | null; why?: string }> {
  try {
    const remote = await cli.taskContext('status').remote();
    if (cli.mode === 'worker') {
      const w = (await (remote as unknown as { whoami(): Promise<{ alerts?: Alert[] }> }).whoami());
      return { alerts: w.alerts ?? [] };
    }
    const { alertsFor, readAlertState } = await import('../domain/alerts.ts');
    return { alerts: alertsFor(await readAlertState(remote), cli.identity.tenant) };
  } catch (err) {
    return { alerts: null, why: (err as Error).message };
  }
}
