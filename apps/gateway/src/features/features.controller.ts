import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
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

@ApiTags('features')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('v1/features')
export class FeaturesController {
  @Get()
  @ApiOperation({ summary: 'The features this key can call, with their input schema and price' })
  list() {
    return { object: 'list', data: listFeatures().map(featureView), has_more: false };
  }

  @Get(':name')
  @ApiOperation({ summary: 'One feature (latest version)' })
  get(@Param('name') name: string) {
    const f = findFeature(name);
    if (!f) throw new ProblemError('feature_not_found', `No feature ${JSON.stringify(name.slice(0, 100))}.`);
    return featureView(f);
  }
}
