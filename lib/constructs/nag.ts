/**
 * Helpers to acknowledge cdk-nag (v3) findings with `Validations.of(construct).acknowledge`.
 *
 * cdk-nag reports each wildcard of `AwsSolutions-IAM5` as its own finding, `AwsSolutions-IAM5[Resource::<flat>]`,
 * where `<flat>` is the resource with CloudFormation references flattened (`Ref` → `<Name>`,
 * `Fn::GetAtt` → `<Logical.Attr>`, `Fn::Join` joined). {@link acknowledgeWildcardResources} computes the
 * same ids from the statements we add, so every acknowledgement names exactly the wildcard it allows.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** Acknowledge one cdk-nag finding on `scope` (and its children) with a specific reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Same flattening cdk-nag applies to a resolved CloudFormation value before it names a finding. */
export function flattenCfnReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if (o['Fn::Sub']) return flattenCfnReference(o['Fn::Sub']);
    if (o['Fn::GetAtt']) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenCfnReference(resource)}.${flattenCfnReference(attribute)}>`;
    }
    if (o['Fn::ImportValue']) return flattenCfnReference(o['Fn::ImportValue']);
    if (o.Ref) return `<${flattenCfnReference(o.Ref)}>`;
  }
  return JSON.stringify(node);
}

/** The `AwsSolutions-IAM5` finding id for one wildcard resource (a string that may contain tokens). */
export function wildcardResourceFindingId(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(resource))}]`;
}

/**
 * Acknowledge `AwsSolutions-IAM5` for every resource with a `*` in `statements`, on `scope` (the role
 * whose policy holds them).
 * @param reason why the wildcard is needed; it is recorded with the acknowledgement
 */
export function acknowledgeWildcardResources(scope: IConstruct, statements: readonly PolicyStatement[], reason: string): void {
  const ids = new Set<string>();
  for (const statement of statements) {
    for (const resource of statement.resources) {
      const id = wildcardResourceFindingId(scope, resource);
      if (id.slice('AwsSolutions-IAM5[Resource::'.length).includes('*')) ids.add(id);
    }
  }
  for (const id of ids) acknowledge(scope, id, reason);
}
