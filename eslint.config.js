// npm run lint: typescript-eslint's recommended rules, and @stylistic as the formatter (`npm run format` applies it:
// two-space indents, single quotes, semicolons, trailing commas on multiline lists) with a line-length limit. Prose
// in strings and templates (error messages, report sentences) is exempt from the limit: it is read as text, and
// breaking it would only scatter it. Rules that would re-wrap lists, ternaries and operators by shape are off: there a
// line break is chosen for the reader.
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'results/**', '.cachebench/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    ...stylistic.configs.customize({ indent: 2, quotes: 'single', semi: true, jsx: false, braceStyle: '1tbs', arrowParens: true, commaDangle: 'always-multiline' }),
  },
  {
    files: ['**/*.ts', '**/*.js'],
    rules: {
      '@stylistic/max-len': ['error', { code: 160, tabWidth: 2, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/quote-props': ['error', 'as-needed'],
      '@stylistic/list-style': 'off',
      '@stylistic/multiline-ternary': 'off',
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/operator-linebreak': 'off',
    },
  },
);
