/**
 * Simulated AWS Secrets Manager: secrets with versions and the AWSCURRENT / AWSPREVIOUS staging labels.
 */
import { randomUUID } from 'node:crypto';
import type {
  CreateSecretRequest,
  CreateSecretResponse,
  GetSecretValueRequest,
  GetSecretValueResponse,
  PutSecretValueRequest,
  PutSecretValueResponse,
} from '@aws-sdk/client-secrets-manager';
import { SimulatedService } from './service';
import { alnumId, copy, type SimContext } from './util';

interface SecretVersion {
  id: string;
  secretString?: string;
  secretBinary?: Uint8Array;
  stages: string[];
  createdAtMs: number;
}

interface SimSecret {
  arn: string;
  name: string;
  versions: SecretVersion[];
}

export class SecretsSimulator extends SimulatedService {
  private readonly secrets = new Map<string, SimSecret>();

  protected readonly operations = {
    CreateSecret: (i: CreateSecretRequest) => this.createSecret(i),
    GetSecretValue: (i: GetSecretValueRequest) => this.getSecretValue(i),
    PutSecretValue: (i: PutSecretValueRequest) => this.putSecretValue(i),
  };

  constructor(ctx: SimContext) {
    super('secretsmanager', ctx);
  }

  /** Create a secret with a string value (or keep the existing one of that name). @returns its ARN */
  seedSecret(name: string, value: string): string {
    const existing = this.secrets.get(name);
    if (existing) return existing.arn;
    return this.createSecret({ Name: name, SecretString: value }).ARN!;
  }

  /**
   * Create a secret whose ARN is `arn` (an ARN as CreateSecret makes them: `…:secret:<name>-<6
   * characters>`), with a string value — for secrets a config names by ARN (the GitHub token). Keeps an
   * existing secret of that name.
   * @returns its ARN
   * @throws Error when `arn` is not a Secrets Manager secret ARN with the 6-character suffix
   */
  seedSecretWithArn(arn: string, value: string): string {
    const m = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn);
    if (!m) throw new Error(`seedSecretWithArn: "${arn}" is not a secret ARN of the form arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>`);
    const name = m[1]!;
    const existing = this.secrets.get(name);
    if (existing) return existing.arn;
    this.createSecret({ Name: name, SecretString: value });
    this.secrets.get(name)!.arn = arn;
    return arn;
  }

  /**
   * CreateSecret: `Name` required (1-512 of `A-Za-z0-9/_+=.@-`: InvalidParameterException); a new name
   * (ResourceExistsException); at most one of `SecretString`/`SecretBinary`. A value becomes version
   * `ClientRequestToken` (or a new UUID) labelled AWSCURRENT. ARN:
   * `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters>`.
   */
  createSecret(input: CreateSecretRequest): CreateSecretResponse {
    this.errors.require(input, 'Name');
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(input.Name!)) {
      this.errors.invalid('The secret name can contain only ASCII letters, digits and the characters /_+=.@- (1-512 characters).');
    }
    if (this.secrets.has(input.Name!)) this.errors.fail('ResourceExistsException', `The operation failed because the secret ${input.Name} already exists.`);
    this.checkOneValue(input, false);
    const secret: SimSecret = { arn: this.arn('secretsmanager', `secret:${input.Name}-${alnumId(6)}`), name: input.Name!, versions: [] };
    this.secrets.set(secret.name, secret);
    const version = input.SecretString !== undefined || input.SecretBinary !== undefined ? this.addVersion(secret, input) : undefined;
    return { ARN: secret.arn, Name: secret.name, VersionId: version?.id };
  }

  /**
   * GetSecretValue: `SecretId` (name or ARN) required (ResourceNotFoundException); `VersionId` or
   * `VersionStage` @default AWSCURRENT.
   */
  getSecretValue(input: GetSecretValueRequest): GetSecretValueResponse {
    this.errors.require(input, 'SecretId');
    const secret = this.secret(input.SecretId!);
    const stage = input.VersionStage ?? (input.VersionId === undefined ? 'AWSCURRENT' : undefined);
    const version = secret.versions.find((v) => (input.VersionId === undefined || v.id === input.VersionId) && (stage === undefined || v.stages.includes(stage)));
    if (!version) {
      this.errors.fail('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for ${input.VersionId ? `VersionId: ${input.VersionId}` : `staging label: ${stage}`}`);
    }
    return copy({
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      SecretString: version.secretString,
      SecretBinary: version.secretBinary,
      VersionStages: version.stages,
      CreatedDate: new Date(version.createdAtMs),
    });
  }

  /**
   * PutSecretValue: `SecretId` required (ResourceNotFoundException) and exactly one of
   * `SecretString`/`SecretBinary` (InvalidParameterException). The new version becomes AWSCURRENT, the
   * previous current one AWSPREVIOUS. Repeating a `ClientRequestToken` with the same value is a no-op;
   * with a different value → ResourceExistsException.
   */
  putSecretValue(input: PutSecretValueRequest): PutSecretValueResponse {
    this.errors.require(input, 'SecretId');
    const secret = this.secret(input.SecretId!);
    this.checkOneValue(input, true);
    const same = input.ClientRequestToken === undefined ? undefined : secret.versions.find((v) => v.id === input.ClientRequestToken);
    if (same) {
      if (same.secretString !== input.SecretString || String(same.secretBinary) !== String(input.SecretBinary)) {
        this.errors.fail('ResourceExistsException', `A version with VersionId ${same.id} already exists with a different value.`);
      }
      return { ARN: secret.arn, Name: secret.name, VersionId: same.id, VersionStages: [...same.stages] };
    }
    const version = this.addVersion(secret, input);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  private secret(id: string): SimSecret {
    const secret = this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
    return secret ?? this.errors.fail('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  }

  private checkOneValue(input: { SecretString?: string; SecretBinary?: Uint8Array }, required: boolean): void {
    const hasString = input.SecretString !== undefined;
    const hasBinary = input.SecretBinary !== undefined;
    if (hasString && hasBinary) this.errors.invalid("You can't specify both a binary secret value and a string secret value in the same secret.");
    if (required && !hasString && !hasBinary) this.errors.invalid('You must provide either SecretString or SecretBinary.');
  }

  private addVersion(secret: SimSecret, input: { ClientRequestToken?: string; SecretString?: string; SecretBinary?: Uint8Array }): SecretVersion {
    for (const v of secret.versions) {
      if (v.stages.includes('AWSCURRENT')) v.stages = ['AWSPREVIOUS'];
      else v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
    }
    const version: SecretVersion = {
      id: input.ClientRequestToken ?? randomUUID(),
      secretString: input.SecretString,
      secretBinary: input.SecretBinary === undefined ? undefined : copy(input.SecretBinary),
      stages: ['AWSCURRENT'],
      createdAtMs: this.nowMs(),
    };
    secret.versions.push(version);
    return version;
  }
}
