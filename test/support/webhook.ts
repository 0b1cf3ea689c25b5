// A local stand-in for a Slack incoming webhook: it records every message POSTed to it and
// answers with the status a test chooses (or not at all, to test the time-out).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedMessage {
  path: string;
  contentType?: string;
  body: { text?: string; blocks?: Array<Record<string, unknown>> } & Record<string, unknown>;
}

export class WebhookReceiver {
  readonly messages: ReceivedMessage[] = [];
  /** The status the next requests get; 'hang' answers nothing. */
  answer: number | 'hang' = 200;

  private constructor(private readonly server: Server, readonly url: string) {}

  /** Listens on 127.0.0.1; `url` has a secret-looking path, as Slack's do. */
  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/services/T000/B000/s3cr3tW3bh00k`);
    server.on('request', async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: ReceivedMessage['body'];
      try {
        body = JSON.parse(text) as ReceivedMessage['body'];
      } catch {
        body = { raw: text };
      }
      receiver.messages.push({ path: req.url ?? '', body, ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}) });
      if (receiver.answer === 'hang') return;
      res.writeHead(receiver.answer, { 'content-type': 'text/plain' }).end(receiver.answer < 300 ? 'ok' : 'invalid_payload');
    });
    return receiver;
  }

  /** Every message's plain text, with its blocks' texts: what a person would read. */
  texts(): string[] {
    return this.messages.map((m) => [m.body.text ?? '', ...(m.body.blocks ?? []).map((b) => JSON.stringify(b))].join('\n'));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
