import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { logger, metrics, tracer } from '../shared/powertools.js';

/** Every handler gets the same middleware: structured logs with the invocation, EMF metrics, tracing. */
export function backupHandler<Event, Result>(handle: (event: Event) => Promise<Result>) {
  return middy(handle)
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}
