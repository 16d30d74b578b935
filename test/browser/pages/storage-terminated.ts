// Browser page for the `terminated` test: Node clears this origin's IndexedDB over CDP, which force-closes our connection.
import { report } from '../harness-page.js';
import { isEdgetuneError } from '../../../src/core/errors.js';
import { openStorage } from '../../../src/storage/index.js';

const w = globalThis as unknown as { __ready?: boolean };

report(async () => {
  const store = await openStorage({ name: 'terminated' });
  await store.checkpoints().save({ before: true });
  const closed = new Promise<string>((resolve) => store.on('closed', (e) => resolve(e.reason)));
  w.__ready = true;
  const reason = await closed;
  let code = 'none';
  try {
    await store.checkpoints().save({ after: true });
  } catch (e) {
    code = isEdgetuneError(e) ? e.code : String(e);
  }
  await store.dispose();
  // A fresh open works again (the data was cleared with the site data).
  await using again = await openStorage({ name: 'terminated' });
  const after = await again.checkpoints().load();
  return { reason, code, reopenedEmpty: after === undefined };
});
