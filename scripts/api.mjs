// API report of every public entry (api-extractor over the built dist/*.d.ts): `--check` fails when the surface changed and etc/*.api.md was not updated; without it, the reports are rewritten.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
if (!check) mkdirSync(join(root, 'etc'), { recursive: true });

// exports-map key → declaration file; the worker scripts export nothing and have no report.
const ENTRIES = {
  '.': 'index',
  './runtime': 'runtime',
  './finetune': 'finetune',
  './storage': 'storage',
  './worker': 'worker',
};

const base = ExtractorConfig.loadFile(join(root, 'api-extractor.json'));
let failed = 0;
for (const [key, name] of Object.entries(ENTRIES)) {
  const dts = join(root, 'dist', `${name}.d.ts`);
  if (!existsSync(dts)) {
    process.stderr.write(`[api] dist/${name}.d.ts is missing: run npm run build first\n`);
    process.exit(1);
  }
  const reportName = key === '.' ? 'edgetune' : `edgetune-${name}`;
  const config = ExtractorConfig.prepare({
    configObject: {
      ...base,
      mainEntryPointFilePath: dts,
      compiler: { overrideTsconfig: { ...base.compiler.overrideTsconfig, files: [dts] } },
      apiReport: { ...base.apiReport, reportFileName: reportName },
    },
    configObjectFullPath: join(root, 'api-extractor.json'),
    packageJsonFullPath: join(root, 'package.json'),
  });
  let changed = false;
  const result = Extractor.invoke(config, {
    localBuild: !check,
    showVerboseMessages: false,
    messageCallback(message) {
      // The one message that matters in --check: say which report is stale and how to refresh it.
      if (message.messageId === 'console-api-report-changed' || message.messageId === 'console-api-report-not-copied')
        changed = true;
      if (message.messageId === 'console-preamble' || message.messageId === 'console-compiler-version-notice')
        message.handled = true;
    },
  });
  if (check && (changed || result.apiReportChanged)) {
    failed++;
    process.stderr.write(
      `[api] ${key}: the public API differs from etc/${reportName}.api.md — if intended, run \`npm run api\` and commit the report (diff: build/api/${reportName}.api.md)\n`,
    );
  } else if (!result.succeeded) {
    failed++;
    process.stderr.write(`[api] ${key}: api-extractor reported ${result.errorCount} error(s)\n`);
  } else {
    process.stdout.write(
      `[api] ${key}: etc/${reportName}.api.md ${check ? 'up to date' : result.apiReportChanged ? 'updated' : 'unchanged'}\n`,
    );
  }
}
process.exit(failed ? 1 : 0);
