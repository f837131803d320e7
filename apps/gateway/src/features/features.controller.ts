import { Controller, Get, Inject, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { ApiContract } from '../openapi/contract.js';
import { describeUnits, FeatureCatalogue, featureModels, parseFeatureRef, type FeatureDefinition } from '#feature-engine/feature-catalogue';

/** One version of a feature, as the API shows it. */
export function featureVersionView(f: FeatureDefinition, catalogue: FeatureCatalogue) {
  return {
    version: f.version,
    default: catalogue.defaultVersion(f.name) === f,
    description: f.description,
    input_schema: f.input,
    output_schema: f.output,
    price: { unit_type: f.price.unitType, units: f.price.units, description: describeUnits(f.price.units) },
    models: featureModels(f),
    sha256: catalogue.documentOf(f)?.sha256 ?? null,
  };
}

/** A feature: the fields of one version (the default one unless asked otherwise) and every version. */
export function featureView(f: FeatureDefinition, catalogue: FeatureCatalogue) {
  const { default: _default, sha256: _sha, ...shown } = featureVersionView(f, catalogue);
  return {
    object: 'feature' as const,
    name: f.name,
    ...shown,
    default_version: catalogue.defaultVersion(f.name)?.version ?? f.version,
    versions: catalogue.versions(f.name).map((v) => featureVersionView(v, catalogue)),
  };
}

@ApiTags('features')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('v1/features')
export class FeaturesController {
  /** The catalogue is fixed for the process's life: its list view is built once, not per request. */
  private listView: { object: 'list'; data: ReturnType<typeof featureView>[]; has_more: false; next_cursor: null } | undefined;

  constructor(@Inject(FeatureCatalogue) private readonly catalogue: FeatureCatalogue) {}

  @Get()
  @ApiOperation({ summary: 'The features this key can call: each with its default version and every version, their input schemas and prices' })
  @ApiContract({ responses: { 200: { description: 'Every feature (one page)', schema: 'FeatureList' } } })
  list() {
    return (this.listView ??= {
      object: 'list',
      data: [...new Set(this.catalogue.list().map((f) => f.name))].flatMap((n) => {
        const d = this.catalogue.defaultVersion(n);
        return d ? [featureView(d, this.catalogue)] : [];
      }),
      has_more: false,
      next_cursor: null,
    });
  }

  @Get(':name')
  @ApiOperation({ summary: 'One feature: its default version, or the version named as name@version, and every version' })
  @ApiContract({ responses: { 200: { description: 'The feature', schema: 'Feature' } }, problems: ['feature_not_found'] })
  get(@Param('name') name: string) {
    const f = this.catalogue.find(name);
    if (!f) {
      const ref = parseFeatureRef(name);
      throw new ProblemError('feature_not_found', `No feature ${JSON.stringify(ref.name.slice(0, 100))}${ref.version !== undefined ? ` at version ${JSON.stringify(ref.version.slice(0, 20))}` : ''}.`);
    }
    return featureView(f, this.catalogue);
  }
}
