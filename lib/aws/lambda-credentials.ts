/**
 * The credential provider of cutover's Lambda bundles, in place of `@aws-sdk/credential-provider-node`
 * (the SDK's default chain: environment, SSO, ini files, process, web identity, container, instance
 * metadata — about 220 KB of minified code and its own STS/SSO clients). A Lambda function always
 * finds its execution role's credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
 * `AWS_SESSION_TOKEN` (Lambda developer guide, "Defined runtime environment variables"), which is
 * exactly what `fromEnv` reads. The esbuild alias is set in lib/constructs/cutover-function.ts
 * (`LAMBDA_ESBUILD`); the twin and the CLI, which run unbundled, keep the SDK's default chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** Same signature as `@aws-sdk/credential-provider-node`'s `defaultProvider`: the SDK clients call it with their init. */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
