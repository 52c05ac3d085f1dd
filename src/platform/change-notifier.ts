// What a service tells the verification caches after it committed a change they depend on. The
// implementation (verify/cache-invalidation.ts) stands above every domain that calls it.
export interface ChangeNotifier {
  tokensChanged(tokenIds: readonly string[]): Promise<void>;
  permissionsChanged(): Promise<void>;
}
