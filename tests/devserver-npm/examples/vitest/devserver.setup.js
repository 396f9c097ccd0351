import { startDevserver } from 'smh-devserver';

// Vitest's globalSetup runs in Node: it starts the devserver and hands the browser tests what
// they need to reach it (`inject('devserver')`); the function it returns runs at the end.
export default async function setup({ provide }) {
  const devserver = await startDevserver();
  const { app, smh, cos, libraryId, spaceId } = devserver;
  provide('devserver', { app, smh, cos, libraryId, spaceId });
  return () => devserver.stop();
}
