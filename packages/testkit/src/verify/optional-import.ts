import { MicrobatchError } from '@microbatch/core';

/** Imports an optional peer dependency (pg, ioredis, kafkajs) of a helper, or says which package to add. */
export async function optionalImport<T>(name: string, helper: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new MicrobatchError('INVALID_OPTION', `${helper} needs the package "${name}": add it to your devDependencies`, { cause: error, details: { package: name } });
  }
}
