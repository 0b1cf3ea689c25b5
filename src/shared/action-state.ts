// What a main step leaves for its post step. Actions back StateStore with
// core.saveState/getState in the entry points; the engines never touch @actions/core,
// and unit tests pass a Map.

export interface StateStore {
  save(name: string, value: string): void;
  /** The saved value, or "" when nothing was saved (as core.getState answers). */
  get(name: string): string;
}
