import type Docker from 'dockerode';
import { dockerCall } from '../../host/docker-errors.ts';

/** Containers a rollback leaves behind while it runs carry this in their name. */
export const PARKED_MARK = '_cdb-parked';

export interface ServiceContainer {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly number: number;
  readonly imageId: string;
  /** The image reference as the Engine lists it (the ID when the reference has moved on). */
  readonly imageRef: string;
  readonly running: boolean;
  /** HostConfig.NetworkMode: `container:<id>` when it shares another container's network namespace. */
  readonly networkMode: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface StackSnapshot {
  readonly project: string;
  /** service → its containers, lowest container number first. */
  readonly services: ReadonlyMap<string, readonly ServiceContainer[]>;
  /** Containers a rollback parked and never cleaned up (a worker that died mid-rollback). */
  readonly parked: readonly ServiceContainer[];
}

/** The project's service containers, grouped by compose service; one-off `run` containers excluded. */
export async function takeSnapshot(docker: Docker, project: string): Promise<StackSnapshot> {
  const list = await dockerCall('list containers', () => docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } }));
  const services = new Map<string, ServiceContainer[]>();
  const parked: ServiceContainer[] = [];
  for (const info of list) {
    const labels = info.Labels ?? {};
    const service = labels['com.docker.compose.service'];
    if (!service || labels['com.docker.compose.oneoff'] === 'True') continue;
    const c: ServiceContainer = {
      id: info.Id,
      name: (info.Names?.[0] ?? info.Id).replace(/^\//, ''),
      service,
      number: Number(labels['com.docker.compose.container-number'] ?? 1) || 1,
      imageId: info.ImageID,
      imageRef: info.Image,
      running: info.State === 'running',
      networkMode: info.HostConfig?.NetworkMode ?? '',
      labels,
    };
    if (c.name.includes(PARKED_MARK)) {
      parked.push(c);
      continue;
    }
    services.set(service, [...(services.get(service) ?? []), c]);
  }
  for (const cs of services.values()) cs.sort((a, b) => a.number - b.number || a.name.localeCompare(b.name));
  return { project, services, parked };
}

/** The container whose image stands for the service: the lowest-numbered running one, else the lowest. */
export function representative(containers: readonly ServiceContainer[]): ServiceContainer | undefined {
  return containers.find((c) => c.running) ?? containers[0];
}
