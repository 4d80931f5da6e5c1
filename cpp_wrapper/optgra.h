// C declarations of the engine's bind(c) entry points (fortran/optgra_c_api.f90).
// Every function returns a status code (OG_STATUS_*); arrays have the lengths implied by the
// (n, m) given to oginit: n for variables, m + 1 for outputs (constraints, then the merit).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

enum {
  OG_STATUS_OK = 0,
  OG_STATUS_INVALID_ARGUMENT = 1,
  OG_STATUS_CALLBACK_FAILED = 2,
  OG_STATUS_NONFINITE_OUTPUT = 3,
  OG_STATUS_OUT_OF_MEMORY = 4,
  OG_STATUS_NOT_READY = 5
};

// Why the last optimisation ended (ogwhy): a finer reading of its result code.
enum {
  OG_STOP_NONE = 0,         // no run, or stopped by a callback or invalid data
  OG_STOP_CONVERGED = 1,    // no step gains more than a tolerance (result 1)
  OG_STOP_ITERATIONS = 2,   // max_iterations (or the optimisation budget) ran out
  OG_STOP_CORRECTIONS = 3,  // max_correction_iterations ran out before the constraints were matched
  OG_STOP_EVALUATIONS = 4,  // the fitness-call budget ran out
  OG_STOP_TIMEOUT = 5,     // the wall-clock deadline passed (result 5)
  OG_STOP_STAGNATION = 6,   // the best merit stopped improving
  OG_STOP_WALL = 7,         // no gain of a tolerance left short of a constraint the steps hit
  OG_STOP_STUCK = 8,        // a correction that cannot move, or a next point beyond the floating-point range
  OG_STOP_DIVERGING = 9     // the distance to feasibility kept growing (result 4)
};

// Raw outputs at x, in engine order (constraints delivered by the user, then the merit).
typedef int (*og_fitness_fn)(void* context, int n, const double* x, int n_out, double* values);
// Gradients at x as a row-major (n_out, n) array.
typedef int (*og_gradient_fn)(void* context, int n, const double* x, int n_out, double* jacobian);
// Raw outputs at n_points points: points is a row-major (n_points, n) array, values a row-major
// (n_points, n_out) array, one row per point, in engine order.
typedef int (*og_batch_fitness_fn)(void* context, int n, int n_points, const double* points, int n_out,
                                   double* values);
typedef void (*og_log_fn)(void* context, int level, const char* message, int length);
// One iteration's raw point x (n) and raw outputs y (n_out, engine order).
typedef void (*og_history_fn)(void* context, int iteration, int n, const double* x, int n_out,
                              const double* y);
// BLAS dgemm and dtrmm with the reference Fortran interface (every argument by address, 32-bit
// integers, no hidden string lengths), e.g. scipy.linalg.cython_blas's.
typedef void (*og_gemm_fn)(const char* trans_a, const char* trans_b, const int* m, const int* n, const int* k,
                           const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
                           const double* beta, double* c, const int* ldc);
typedef void (*og_trmm_fn)(const char* side, const char* uplo, const char* trans_a, const char* diag, const int* m,
                           const int* n, const double* alpha, const double* a, const int* lda, double* b,
                           const int* ldb);

int oginit(void** state, int n, int m);
int ogclos(void** state);
int ogctyp(void* state, const int* types);
int ogderi(void* state, int mode, const double* steps);
int ogdist(void* state, double max_distance, double probe_distance);
int ogvtyp(void* state, const int* types);
int ogiter(void* state, int total, int correction, int optimisation, int divergence, int stagnation);
int ogomet(void* state, int method);
int ogwlog(void* state, int level, og_log_fn callback, void* context);
int ogvsca(void* state, const double* scales);
int ogcsca(void* state, const double* tolerances);
int ogcpri(void* state, const int* priorities);
int ogbnds(void* state, const double* lower, const double* upper);
int ogsopt(void* state, int mode);
int ogcdel(void* state, const double* deltas);
int ogexec(void* state, double* x, double* y, int* result, int* iterations, og_fitness_fn fitness,
           og_gradient_fn gradient, void* context);
int oggsst(void* state, double* point, double* values, double* gradients, int* status);
int ogssst(void* state, const double* point, const double* values, const double* gradients,
           const int* status);
int ogsens(void* state, int* active, double* cc, double* cp, double* vc, double* vp);
int oglimt(void* state, int max_fitness_calls, double seconds);
int ogwhis(void* state, og_history_fn callback, void* context);
int ogmult(void* state, int* active, double* multipliers);
int ogbest(void* state, double* x, double* y);
int ogbfit(void* state, og_batch_fitness_fn callback);
int ogblas(void* state, og_gemm_fn gemm, og_trmm_fn trmm);
int ogknow(void* state, const double* x, int n_values, const double* values);
int ogstat(void* state, int* fitness_calls, int* gradient_calls, int* nonfinite_output);
int ogwhy(void* state, int* reason);

#ifdef __cplusplus
}
#endif
