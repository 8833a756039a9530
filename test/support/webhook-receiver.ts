import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  id: string;
  timestamp: string;
  /** Whether `standardwebhooks` verified the signature with the webhook's secret. */
  verified: boolean;
  body: { type: string; timestamp: string; data: Record<string, any> };
  /** The status this receiver answered. */
  answered: number;
}

export type Behaviour = (req: IncomingMessage, res: ServerResponse) => boolean | void;

/**
 * A webhook receiver on 127.0.0.1 that verifies each delivery with the Standard Webhooks library,
 * the way a real consumer would, and records it. `answer` decides the status (200 by default);
 * `behave` may take the response over (redirect, stall, huge body) by returning true.
 */
export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  secret: string | null = null;
  answer = 200;
  behave: Behaviour | null = null;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = createServer((req, res) => receiver!.handle(req, res));
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/hook`;
  }

  /** The successfully answered deliveries of events (not tests), in arrival order. */
  accepted(): ReceivedDelivery[] {
    return this.received.filter((d) => d.answered >= 200 && d.answered < 300);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const payload = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let verified = false;
      try {
        if (this.secret !== null) {
          new Webhook(this.secret).verify(payload, headers);
          verified = true;
        }
      } catch {
        verified = false;
      }
      const took = this.behave?.(req, res) === true;
      const answered = took ? res.statusCode : this.answer;
      this.received.push({
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        verified,
        body: JSON.parse(payload),
        answered,
      });
      if (!took) {
        res.statusCode = this.answer;
        res.end('ok');
      }
    });
  }
}
