import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProblemError, problemIndexPage, problemPage } from '#infra/errors';
import { ApiContract } from '../openapi/contract.js';

/** The pages problem `type` URIs point to: one per code of the error catalogue, generated from it. */
@ApiTags('errors')
@Controller('problems')
export class ProblemsController {
  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  @ApiOperation({ summary: 'Every error code with its status and title (HTML)' })
  @ApiContract({ responses: { 200: { description: 'HTML', schema: { json: { type: 'string' } }, contentType: 'text/html' } } })
  index(): string {
    return problemIndexPage();
  }

  @Get(':code')
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  @ApiOperation({ summary: 'The page a problem `type` points to (HTML)' })
  @ApiContract({ responses: { 200: { description: 'HTML', schema: { json: { type: 'string' } }, contentType: 'text/html' } } })
  page(@Param('code') code: string): string {
    const page = problemPage(code);
    if (page === undefined) throw new ProblemError('not_found', 'No such error code.');
    return page;
  }
}
