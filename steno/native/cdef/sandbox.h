/* cffi declarations for sandbox.h. */
enum steno_sandbox_mode {
    STENO_SANDBOX_NONE,
    STENO_SANDBOX_TRACE,
    STENO_SANDBOX_KILL,
    ...
};
int steno_sandbox_apply(int mode);
