/* cffi declarations for setops.h. */
int steno_set_and(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out,
                  size_t *n);
int steno_set_or(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out,
                 size_t *n);
