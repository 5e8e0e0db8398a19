/** Every path of the stream API starts with this; the HTTP server sends such requests to the data plane. */
export const STREAMS_PATH_PREFIX = '/api/v1/streams/';
export const SEND_ROUTE = `${STREAMS_PATH_PREFIX}send`;
export const RECEIVE_ROUTE = `${STREAMS_PATH_PREFIX}receive`;
export const EVENTS_ROUTE = `${STREAMS_PATH_PREFIX}events`;
