import t from 'tap';
import { bucketNameProblem, fileNameProblem, fileStem, validateBucketName, validateFileName } from '../../src/storage/names.js';

t.test('bucket names follow S3\'s rules', async (t) => {
  for (const ok of ['abc', 'my-bucket', 'my.bucket.2', 'a'.repeat(63), '123']) t.equal(bucketNameProblem(ok), null, ok);
  for (const bad of ['ab', 'a'.repeat(64), 'My-Bucket', '-abc', 'abc-', '.abc', 'a..b', '192.168.1.1', '..', '../etc', 'a/b', 'a_b', 'a b', '%2e%2e', '']) {
    t.not(bucketNameProblem(bad), null, JSON.stringify(bad));
  }
  t.throws(() => validateBucketName('..'), { code: 'INVALID_BUCKET_NAME' });
});

t.test('file names are UTF-8 up to 1024 bytes without NUL', async (t) => {
  for (const ok of ['a', '..', '../../etc/passwd', '%2e%2e/x', 'dir/sub/file.txt', 'ünïcödé ✓', 'x'.repeat(1024), 'é'.repeat(512)]) {
    t.equal(fileNameProblem(ok), null, ok.slice(0, 30));
  }
  t.not(fileNameProblem(''), null);
  t.not(fileNameProblem('a\0b'), null);
  t.not(fileNameProblem('x'.repeat(1025)), null);
  t.not(fileNameProblem('é'.repeat(513)), null, '1026 bytes of UTF-8');
  t.not(fileNameProblem('\ud800'), null, 'a lone surrogate is not UTF-8');
  t.throws(() => validateFileName('a\0'), { code: 'INVALID_FILE_NAME' });
});

t.test('a file is stored under a name that cannot traverse', async (t) => {
  for (const name of ['..', '../../etc/passwd', '/abs', '%2e%2e', 'a\\b', 'x'.repeat(1024)]) {
    const stem = fileStem(name);
    t.match(stem, /^[0-9a-f]{64}$/, `${name.slice(0, 20)} -> ${stem.slice(0, 12)}…`);
  }
  t.not(fileStem('a'), fileStem('A'));
});
