/** One page of a Kubernetes list, as typed and custom-object clients return it. */
export interface ListPage {
  items?: unknown[];
  metadata?: { continue?: string; _continue?: string };
}

// A 410 means the snapshot behind the continue token is gone; starting over is the cure.
const MAX_RESTARTS = 3;

/**
 * Reads a whole list page by page (`limit` / `continue`), starting over from the first page when
 * the server says the continue token expired (410), a bounded number of times.
 */
export async function listAllPages(fetchPage: (continueToken: string | undefined) => Promise<ListPage>): Promise<unknown[]> {
  return listAllPagesWith(fetchPage, dropManagedFields);
}

/** Drops the server's field-ownership records as items arrive: the largest part of an object, never exported. */
function dropManagedFields(item: unknown): unknown {
  const metadata = (item as { metadata?: { managedFields?: unknown } } | null)?.metadata;
  if (metadata && 'managedFields' in metadata) delete metadata.managedFields;
  return item;
}

async function listAllPagesWith(fetchPage: (continueToken: string | undefined) => Promise<ListPage>, keep: (item: unknown) => unknown): Promise<unknown[]> {
  for (let attempt = 0; ; attempt++) {
    const items: unknown[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await fetchPage(token);
        for (const item of page.items ?? []) items.push(keep(item));
        token = page.metadata?._continue ?? page.metadata?.continue;
      } while (token);
      return items;
    } catch (error) {
      if ((error as { code?: unknown }).code === 410 && token !== undefined && attempt < MAX_RESTARTS) continue;
      throw error;
    }
  }
}
