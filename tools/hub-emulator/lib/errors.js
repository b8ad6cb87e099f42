/** A failure the hub reports with an HTTP-style status and one of its numeric error codes. */
export class HubError extends Error {
  constructor(status, errorCode, message) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
  }
}
