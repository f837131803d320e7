import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { ApiContract } from '../openapi/contract.js';
import { featureModels, findFeature, listFeatures, type FeatureDefinition } from '#feature-engine/feature-catalogue';

export function featureView(f: FeatureDefinition) {
  return {
    object: 'feature',
    name: f.name,
    version: f.version,
    description: f.description,
    input_schema: f.input,
    output_schema: f.output,
    price: { units: f.price.units, unit_type: f.price.unitType },
    models: featureModels(f),
  };
}

/** The catalogue is fixed for the process's life: its list view is built once, not per request. */
let featureList: { object: 'list'; data: ReturnType<typeof featureView>[]; has_more: false; next_cursor: null } | undefined;

@ApiTags('features')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('v1/features')
export class FeaturesController {
  @Get()
  @ApiOperation({ summary: 'The features this key can call, with their input schema and price' })
  @ApiContract({ responses: { 200: { description: 'Every feature (one page)', schema: 'FeatureList' } } })
  list() {
    return (featureList ??= { object: 'list', data: listFeatures().map(featureView), has_more: false, next_cursor: null });
  }

  @Get(':name')
  @ApiOperation({ summary: 'One feature (latest version)' })
  @ApiContract({ responses: { 200: { description: 'The feature', schema: 'Feature' } }, problems: ['feature_not_found'] })
  get(@Param('name') name: string) {
    const f = findFeature(name);
    if (!f) throw new ProblemError('feature_not_found', `No feature ${JSON.stringify(name.slice(0, 100))}.`);
    return featureView(f);
  }
}
