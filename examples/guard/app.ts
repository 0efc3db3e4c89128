import { requestSignal } from '@doorman/http';
import express, { type Express } from 'express';
import type { UpstreamStats } from './upstream.js';

/**
 * An ordinary Express app. The limit is not in here: `server.ts` puts a
 * guard in front of the whole app, so a refused request is answered before
 * Express runs. `/quote` calls a slow upstream with `requestSignal(req)`, so
 * the upstream call is cancelled when the client leaves.
 */
export function createApp(upstream: string, stats: () => object): Express {
  const app = express();

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/quote', async (req, res, next) => {
    const ms = typeof req.query['ms'] === 'string' ? `?ms=${Number(req.query['ms'])}` : '';
    try {
      const answer = await fetch(`${upstream}/quote${ms}`, { signal: requestSignal(req) });
      res.json(await answer.json());
    } catch (error) {
      // The client left: nobody to answer, and the upstream stopped working for nobody.
      if (requestSignal(req).aborted) return;
      next(error);
    }
  });

  app.get('/stats', (_req, res) => {
    res.json(stats());
  });

  return app;
}

export type { UpstreamStats };
