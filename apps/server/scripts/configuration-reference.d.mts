/** Path of docs/configuration.md. */
export declare const CONFIGURATION_REFERENCE: string;
/** docs/configuration.md as the current config schema renders it. */
export declare function renderConfigurationReference(): Promise<string>;
