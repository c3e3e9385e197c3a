import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MicrobatchError } from '@microbatch/core';
import { describeS3Error, httpStatus, isConflict } from './retry.js';

/** Answers a server gives to a request it will not carry out, as opposed to a condition that failed. */
const REFUSED_STATUS = new Set([400, 501]);

export type ProbeResult =
  | { honoured: true }
  /** `refused`: the server answered the conditional PUT with an error (kept as the cause); else it ignored the header. */
  | { honoured: false; refused?: unknown };

/**
 * Whether the server honours `If-None-Match: *` on PUT: two creates of one probe object, the
 * second must conflict. A server that refuses the conditional PUT (400/501) is asked again with a
 * plain PUT, to tell "does not do conditional writes" (the plain PUT goes through) from "refuses
 * our requests altogether", e.g. the AWS SDK's checksum headers on an older server: that is an
 * error naming the server's answer, never a silent switch to the unfenced mode.
 */
export async function probeConditionalWrites(client: S3Client, bucket: string, key: string, details: Record<string, unknown>): Promise<ProbeResult> {
  const put = (conditional: boolean) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'probe', ...(conditional ? { IfNoneMatch: '*' } : {}) }));
  let result: ProbeResult;
  try {
    await put(true);
    result = await put(true).then(
      (): ProbeResult => ({ honoured: false }),
      (error: unknown): ProbeResult => {
        if (isConflict(error)) return { honoured: true };
        throw error;
      },
    );
  } catch (refused) {
    if (!REFUSED_STATUS.has(httpStatus(refused) ?? 0)) throw refused;
    await put(false).catch((error: unknown) => {
      if (!REFUSED_STATUS.has(httpStatus(error) ?? 0)) throw error;
      throw new MicrobatchError(
        'CHECKPOINT_STORE_UNAVAILABLE',
        `The S3 server behind bucket ${bucket} rejects a plain PUT (${describeS3Error(error)}); ` +
          'older S3-compatible servers reject the checksum headers the AWS SDK sends with requestChecksumCalculation WHEN_SUPPORTED ' +
          '(this store defaults to WHEN_REQUIRED; an injected client must be built with it)',
        { cause: error, details: { bucket, status: httpStatus(error), ...details } },
      );
    });
    result = { honoured: false, refused };
  }
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  return result;
}
