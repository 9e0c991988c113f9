/**
 * Delivering a GitHub webhook to the twin the way GitHub does: a POST with GitHub's headers
 * (`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256` = HMAC-SHA256 of the body with the
 * webhook secret; GitHub docs "Validating webhook deliveries"), JSON body.
 */
import { createHmac, randomUUID } from 'node:crypto';

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * POST `payload` as GitHub event `eventName` to `<url>/webhooks/github`, signed with `secret`.
 * @param url the twin's base URL, `http://127.0.0.1:<port>`
 * @returns the status and the JSON body (an empty object for an empty body)
 * @throws TypeError (fetch) when the twin cannot be reached
 */
export async function deliverWebhook(url: string, secret: string, eventName: string, payload: unknown, deliveryId: string = randomUUID()): Promise<WebhookResponse> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/cutover-twin',
      'x-github-event': eventName,
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}
