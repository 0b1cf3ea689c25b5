// RegistryClient asks a registry's HTTP API (/v2/) which digest a tag points at, so the
// digest Gantry reports is the registry's answer rather than something computed locally.
import { GantryError } from '../errors.js';
import { ImageReference, TaggedReference } from '../shared/image-reference.js';

/** The manifest types a registry may store for a tag; asking for all of them keeps the registry from converting. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export type Fetch = (url: string, init?: { method?: string; headers?: Record<string, string> }) => Promise<FetchResponse>;

/** The part of a fetch Response this client uses, so tests can answer with plain objects. */
export interface FetchResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  /** Compressed bytes of config and layers; summed over platforms for an index. */
  size: number;
  /** os/arch of each image in an index; one entry for a single-platform image. */
  platforms: string[];
}

export interface RegistryClientOptions {
  fetch?: Fetch;
  /** Credentials for a registry host, when the user gave some. */
  credentials?: (registry: string) => Credentials | undefined;
}

interface ManifestDocument {
  mediaType?: string;
  config?: { size?: number };
  layers?: { size?: number }[];
  manifests?: { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
}

export class RegistryClient {
  private readonly fetch: Fetch;
  private readonly credentials: (registry: string) => Credentials | undefined;
  /** Bearer tokens per registry+repository, so one lookup does not re-authenticate per request. */
  private readonly tokens = new Map<string, string>();
  private readonly schemes = new Map<string, string>();

  constructor(options: RegistryClientOptions = {}) {
    this.fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.credentials = options.credentials ?? (() => undefined);
  }

  /** The digest and size of what `ref`'s tag points at, from GET /v2/<repo>/manifests/<tag>. */
  async manifest(ref: TaggedReference): Promise<ManifestInfo> {
    const top = await this.getManifest(ref, ref.tag);
    const doc = top.doc;
    if (doc.manifests) {
      let size = 0;
      const platforms: string[] = [];
      for (const child of doc.manifests) {
        const p = child.platform;
        // BuildKit stores attestations as "unknown/unknown" entries; they are not runnable images.
        if (p?.os === 'unknown') continue;
        const sub = await this.getManifest(ref, child.digest);
        size += imageSize(sub.doc);
        platforms.push([p?.os, p?.architecture, p?.variant].filter(Boolean).join('/'));
      }
      return { digest: top.digest, mediaType: top.mediaType, size, platforms };
    }
    return { digest: top.digest, mediaType: top.mediaType, size: imageSize(doc), platforms: [] };
  }

  private async getManifest(ref: ImageReference, tagOrDigest: string): Promise<{ digest: string; mediaType: string; doc: ManifestDocument }> {
    const path = `/v2/${ref.repository}/manifests/${tagOrDigest}`;
    const res = await this.request(ref, path);
    if (res.status === 404) {
      throw new GantryError(`The registry ${ref.registry} has no manifest for ${ref.name}:${tagOrDigest}`, {
        title: 'Registry',
        hint: 'the push reported success but the tag is missing; check that nothing deletes tags in this repository',
      });
    }
    if (res.status !== 200) {
      throw new GantryError(`The registry ${ref.registry} answered ${res.status} for ${path}: ${(await res.text()).slice(0, 200)}`, { title: 'Registry' });
    }
    const digest = res.headers.get('docker-content-digest');
    if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw new GantryError(`The registry ${ref.registry} did not send a Docker-Content-Digest header for ${ref.name}:${tagOrDigest}`, {
        title: 'Registry',
        hint: 'Gantry reads the digest from the registry; use a registry that implements the OCI distribution API',
      });
    }
    const body = await res.text();
    const doc = JSON.parse(body) as ManifestDocument;
    return { digest, mediaType: res.headers.get('content-type') ?? doc.mediaType ?? '', doc };
  }

  /** A GET with the registry's auth dance: anonymous first, then Basic or a Bearer token on 401. */
  private async request(ref: ImageReference, path: string): Promise<FetchResponse> {
    const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
    const tokenKey = `${ref.registry}/${ref.repository}`;
    const token = this.tokens.get(tokenKey);
    if (token) headers.Authorization = token;
    let res = await this.send(ref.registry, path, headers);
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate') ?? '';
    const creds = this.credentials(ref.registry);
    const auth = await this.authorize(ref, challenge, creds);
    if (auth === undefined) {
      throw new GantryError(`The registry ${ref.registry} requires credentials to read ${ref.name}`, {
        title: 'Registry authentication failed',
        hint: 'set inputs "username" and "password" so Gantry can log in',
      });
    }
    this.tokens.set(tokenKey, auth);
    res = await this.send(ref.registry, path, { ...headers, Authorization: auth });
    if (res.status === 401 || res.status === 403) {
      throw new GantryError(`The registry ${ref.registry} rejected the credentials of "${creds?.username ?? 'anonymous'}" for ${ref.name} (HTTP ${res.status})`, {
        title: 'Registry authentication failed',
        hint: 'check inputs "username" and "password", and that this user may pull from the repository',
      });
    }
    return res;
  }

  private async authorize(ref: ImageReference, challenge: string, creds: Credentials | undefined): Promise<string | undefined> {
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    if (/^basic/i.test(challenge)) return basic;
    if (!/^bearer/i.test(challenge)) return basic;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) return undefined;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? `repository:${ref.repository}:pull`);
    const res = await this.fetchOrExplain(ref.registry, url.toString(), basic ? { Authorization: basic } : {});
    if (res.status !== 200) return undefined;
    const body = JSON.parse(await res.text()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  }

  private async send(registry: string, path: string, headers: Record<string, string>): Promise<FetchResponse> {
    const host = apiHost(registry);
    const known = this.schemes.get(host);
    if (known) return this.fetchOrExplain(registry, `${known}://${host}${path}`, headers);
    try {
      const res = await this.fetch(`https://${host}${path}`, { headers });
      this.schemes.set(host, 'https');
      return res;
    } catch (err) {
      // Like docker itself, speak plain HTTP only to registries on this machine.
      if (!isLoopback(host)) throw unreachable(registry, err);
      const res = await this.fetchOrExplain(registry, `http://${host}${path}`, headers);
      this.schemes.set(host, 'http');
      return res;
    }
  }

  private async fetchOrExplain(registry: string, url: string, headers: Record<string, string>): Promise<FetchResponse> {
    try {
      return await this.fetch(url, { headers });
    } catch (err) {
      throw unreachable(registry, err);
    }
  }
}

function unreachable(registry: string, err: unknown): GantryError {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
  return new GantryError(`The registry ${registry} is unreachable: ${cause}`, {
    title: 'Registry unreachable',
    hint: 'check the registry host and port in your tags, and that the runner can reach it',
    cause: err,
  });
}

function imageSize(doc: ManifestDocument): number {
  return (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((sum, l) => sum + (l.size ?? 0), 0);
}

/** Docker Hub's API lives on a different host than its name. */
export function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

export function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}
