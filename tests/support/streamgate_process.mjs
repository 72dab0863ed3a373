// Starts the streamgate binary on a free loopback port for the Node.js tests and resolves
// with the process, the port it printed, and its admin listener's port.
import { spawn } from 'node:child_process';

export async function startStreamgate(binary, args = []) {
  const server = spawn(binary, ['--listen', '127.0.0.1:0', '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [port, adminPort] = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      const a = out.match(/admin on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m && a) resolve([Number(m[1]), Number(a[1])]);
    });
    server.on('error', reject);
    server.on('exit', () => reject(new Error('server exited early')));
  });
  return { server, port, adminPort };
}
