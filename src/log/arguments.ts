import { InvalidArgumentError } from '../errors.js';
import { describe } from './config.js';

/** Throws `InvalidArgumentError` unless `value` is a safe non-negative integer. */
export function requireOffset(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative safe integer, got ${describe(value)}`);
  }
  return value;
}

/** Throws `InvalidArgumentError` unless `value` is a safe integer (timestamps may be any safe integer). */
export function requireTimestamp(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`${name} must be a safe integer of milliseconds, got ${describe(value)}`);
  }
  return value;
}

/** A positive integer option, or its default when absent. */
export function optionalPositive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(Number.isSafeInteger(value) || value === Infinity) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** An options argument: undefined or a plain object whose keys are all in `allowed`. */
export function requireOptions<T extends object>(name: string, value: unknown, allowed: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${name} must be an object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(`unknown option '${key}' in ${name}; allowed: ${allowed.join(', ')}`);
  }
  return value as Partial<T>;
}
