// A COS origin that discards every byte: the loopback ceiling put-rate.mjs compares the
// devserver against. It answers InitiateMultipartUpload with a fixed UploadId, every PUT with
// 200 (after reading the whole body) and anything else with 204; no signature check, no storage.
// Prints a READY line shaped like the devserver's, so put-rate.mjs drives it unchanged:
//
//   node devserver/bench/put-rate.mjs node devserver/bench/sink.mjs
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    if (req.method === 'POST' && req.url.endsWith('?uploads')) {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end('<InitiateMultipartUploadResult><UploadId>sink</UploadId></InitiateMultipartUploadResult>');
    } else {
      res.writeHead(req.method === 'PUT' ? 200 : 204, { 'content-length': 0 });
      res.end();
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`SMH_DEVSERVER_READY ${JSON.stringify({ cos: `127.0.0.1:${port}`, secretId: 'sink', secretKey: 'sink' })}`);
});
