import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toProblem } from './problem-mapping.js';

export interface ProblemFilterOptions {
  /**
   * Paths whose clients read a plain `error` string (the Open Inference Protocol): their
   * problems also carry `error` = `detail`, whatever raised them (auth, bad JSON, a handler).
   */
  errorMember?: (path: string) => boolean;
}

/** Renders every error as RFC 9457 application/problem+json with the request id. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Problem');

  constructor(private readonly options: ProblemFilterOptions = {}) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = toProblem(error);
    if (problem.status >= 500) {
      const cause = problem.code === 'internal_error' ? error : problem.cause;
      const what = cause instanceof Error ? (cause.stack ?? cause.message) : typeof cause === 'string' ? cause : problem.detail;
      this.logger.error(`${request.id} ${request.method} ${request.url}: ${what}`);
    }
    for (const [name, value] of Object.entries(problem.headers)) void reply.header(name, value);
    const path = request.url.split('?')[0] ?? '';
    const body = problem.toBody(request.id, path);
    if (body.error === undefined && this.options.errorMember?.(path)) body.error = body.detail;
    void reply
      .status(problem.status)
      .header('content-type', 'application/problem+json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(JSON.stringify(body));
  }
}
