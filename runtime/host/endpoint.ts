// comlink over Node's worker_threads ports (the browser's Worker and
// MessagePort are comlink endpoints already).
import type { Endpoint } from 'comlink';

interface NodePort {
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  off(event: 'message', listener: (data: unknown) => void): unknown;
}

export function nodeEndpoint(port: NodePort): Endpoint {
  const listeners = new Map<EventListenerOrEventListenerObject, (data: unknown) => void>();
  return {
    postMessage: (message, transfer) => port.postMessage(message, transfer as Transferable[] | undefined),
    addEventListener: (_type, handler) => {
      const l = (data: unknown) => {
        const event = { data } as MessageEvent;
        if (typeof handler === 'function') handler(event);
        else handler.handleEvent(event);
      };
      listeners.set(handler, l);
      port.on('message', l);
    },
    removeEventListener: (_type, handler) => {
      const l = listeners.get(handler);
      if (!l) return;
      listeners.delete(handler);
      port.off('message', l);
    },
  };
}
