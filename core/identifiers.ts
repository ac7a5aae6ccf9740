import { InvalidInputError } from './errors';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Throws unless `name` is a plain SQL identifier (letters, digits, underscore; at most 63 characters). */
export function assertIdentifier(field: string, name: unknown): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new InvalidInputError(
      field,
      `must be a SQL identifier (a letter or _ then letters, digits or _, at most 63 characters); got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Quotes an identifier that has passed assertIdentifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.table` or `table`, each part validated and quoted. */
export function quoteQualifiedName(field: string, qualified: string): string {
  const parts = qualified.split('.');
  if (parts.length > 2) throw new InvalidInputError(field, `must be "table" or "schema.table"; got ${JSON.stringify(qualified)}`);
  return parts.map((part) => quoteIdentifier(assertIdentifier(field, part))).join('.');
}
