// Reads TypeScript declaration files as text, for the tests that hold the
// declarations to what the JS really returns (test/js-types.test.mjs) and to
// what the npm package ships (test/npm-package.test.mjs).

/**
 * The fields of `export interface name { ... }` in `text`: { all, required },
 * each sorted.  `where` names the file in the error when there is no such
 * interface.
 */
export function interfaceFields(text, name, where) {
  const m = new RegExp(`^export interface ${name}\\b[^{]*\\{([\\s\\S]*?)^\\}`, 'm').exec(text);
  if (!m) throw new Error(`${where} has no interface ${name}`);
  const fields = [...m[1].matchAll(/^ {2}(?:readonly )?(\w+)(\??):/gm)];
  return {
    all: fields.map((f) => f[1]).sort(),
    required: fields
      .filter((f) => !f[2])
      .map((f) => f[1])
      .sort(),
  };
}
