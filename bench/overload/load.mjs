// Load generation for the overload benchmark, on top of autocannon.
import autocannon from 'autocannon';

/**
 * Open-loop load at `rate` requests per second for `duration` seconds, with
 * `rate` connections: each connection sends one request per second, so a
 * response may take up to a second before that connection falls behind its
 * schedule (past that, the achieved rate drops below the offered one, and
 * the result says so).
 *
 * autocannon's `overallRate` gives each connection a budget per second and
 * starts every connection's second at the same instant, so the whole second's
 * load would leave in one burst at t = 0, 1, 2 ... That is not how clients
 * arrive. `setupClient` (called by autocannon's client constructor) holds the
 * request the client makes on connect and moves the start of its second to
 * i/rate s for the i-th connection: arrivals are spread evenly.
 *
 * Timeline: `connectMs` with no request (every connection opens), then
 * `duration` seconds of arrivals, then `graceMs` in which nothing is sent and
 * responses still count; then `atEnd()` runs (the caller reads the server's
 * numbers there, before autocannon closes its connections, which would
 * release whatever the server still holds) and the load stops.
 *
 * `headers` are sent with every request (bench/fairness names a tenant so).
 *
 * Resolves with counts and the latencies (ms) of 2xx and 503 responses, taken
 * from each response (autocannon's own histogram keeps 2xx only); 503s are
 * split by the reason the server tags them with (`x-bench-reject`).
 * `onResponse(statusCode, latencyMs)`, if given, hears every recorded
 * response as it arrives (to bucket them by time).
 */
export function openLoop(
  url,
  {
    rate,
    duration,
    timeout = 10,
    connectMs = 1000,
    graceMs = 1000,
    atEnd = async () => {},
    onResponse = undefined,
    headers = undefined,
    // Shifts this generator's arrivals later within each second, so that
    // generators standing for independent clients need not all start their
    // seconds at the same instant.
    phaseMs = 0,
  },
) {
  const connections = rate;
  const ok = [];
  const rejected = new Map(); // reason -> latencies
  const other = new Map();
  const clients = [];
  let sent = 0;
  let timeouts = 0;
  let errors = 0;
  let recording = true;
  const setupClient = (client) => {
    const startMs = connectMs + phaseMs + (clients.length / connections) * 1000;
    clients.push(client);
    client.on('request', () => {
      sent++;
    });
    client.on('timeout', () => {
      if (recording) timeouts++;
    });
    client.on('connError', () => {
      if (recording) errors++;
    });
    client.on('headers', (info) => {
      client.benchReason = headerValue(info.headers, 'x-bench-reject');
    });
    client.reqsMadeThisSecond = Number.POSITIVE_INFINITY; // holds the request made on connect
    queueMicrotask(() => {
      // The constructor has started its one-second interval by now: replace it.
      clearInterval(client.rateInterval);
      const tick = () => {
        client.reqsMadeThisSecond = 0;
        if (client.paused) client._doRequest(client.cer);
        client.paused = false;
      };
      client.rateInterval = setTimeout(() => {
        if (client.destroyed) return;
        tick();
        client.rateInterval = setInterval(tick, 1000);
      }, startMs);
    });
  };
  return new Promise((resolve, reject) => {
    const loadEnds = setTimeout(
      () => {
        // No more requests: a connection still owed one (its previous response
        // came late) does not send it now.
        for (const client of clients) {
          clearInterval(client.rateInterval);
          client.reqsMadeThisSecond = Number.POSITIVE_INFINITY;
        }
      },
      connectMs + duration * 1000,
    );
    const graceEnds = setTimeout(
      async () => {
        recording = false;
        try {
          await atEnd();
        } finally {
          instance.stop();
        }
      },
      connectMs + duration * 1000 + graceMs,
    );
    const instance = autocannon(
      {
        url,
        connections,
        overallRate: rate,
        // stopped by hand after the grace period; this only bounds a stuck run
        duration: (connectMs + graceMs) / 1000 + duration + 60,
        timeout,
        pipelining: 1,
        setupClient,
        ...(headers === undefined ? {} : { headers }),
      },
      (error) => {
        clearTimeout(loadEnds);
        clearTimeout(graceEnds);
        if (error) {
          reject(error);
          return;
        }
        resolve({
          connections,
          sent,
          ok,
          rejected: Object.fromEntries(rejected),
          other: Object.fromEntries(other),
          timeouts,
          errors,
        });
      },
    );
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      if (!recording) return;
      onResponse?.(statusCode, responseTime);
      if (statusCode >= 200 && statusCode < 300) ok.push(responseTime);
      else if (statusCode === 503) {
        const reason = client.benchReason ?? 'UNTAGGED';
        let list = rejected.get(reason);
        if (list === undefined) {
          list = [];
          rejected.set(reason, list);
        }
        list.push(responseTime);
      } else other.set(statusCode, (other.get(statusCode) ?? 0) + 1);
    });
  });
}

function headerValue(headers, name) {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === name.length && headers[i].toLowerCase() === name) {
      return headers[i + 1];
    }
  }
  return undefined;
}

/** Closed loop, as fast as the server answers: `amount` requests over `connections`. */
export function burst(url, { amount, connections }) {
  return new Promise((resolve, reject) => {
    const statuses = new Map();
    const instance = autocannon(
      { url, connections, amount, pipelining: 1, timeout: 10 },
      (error, result) => {
        if (error) reject(error);
        else
          resolve({
            statuses: Object.fromEntries(statuses),
            errors: result.errors,
            timeouts: result.timeouts,
          });
      },
    );
    instance.on('response', (_client, statusCode) => {
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    });
  });
}
