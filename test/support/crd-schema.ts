import { Ajv } from 'ajv';
import { argocdCrds } from '../../demo/argocd-installation.js';

type Schema = Record<string, unknown>;

// Kubernetes prunes fields a structural schema does not declare; closing every declared object makes
// such fields an error here, so an object cannot carry a field a real API server would drop.
export function closedSchema(schema: Schema): Schema {
  const copy: Schema = { ...schema };
  if (copy.properties && copy.additionalProperties === undefined && !copy['x-kubernetes-preserve-unknown-fields']) copy.additionalProperties = false;
  for (const key of ['properties', 'patternProperties']) {
    if (copy[key]) copy[key] = Object.fromEntries(Object.entries(copy[key] as Record<string, Schema>).map(([name, child]) => [name, closedSchema(child)]));
  }
  for (const key of ['items', 'additionalProperties']) if (copy[key] && typeof copy[key] === 'object') copy[key] = closedSchema(copy[key] as Schema);
  for (const key of ['anyOf', 'allOf', 'oneOf']) if (Array.isArray(copy[key])) copy[key] = (copy[key] as Schema[]).map(closedSchema);
  return copy;
}

/** A validator per Argo CD kind, from the CRDs' openAPIV3Schema with undeclared fields refused. */
export function crdValidators() {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  return new Map(argocdCrds().map((crd) => {
    const spec = crd.spec as { names: { kind: string }; versions: { schema: { openAPIV3Schema: Schema } }[] };
    return [spec.names.kind, ajv.compile(closedSchema(spec.versions[0]!.schema.openAPIV3Schema))] as const;
  }));
}
