/** Path of docs/api.md. */
export declare const API_REFERENCE: string;
/** docs/api.md as the current wire schemas render it. */
export declare function renderApiReference(): Promise<string>;
