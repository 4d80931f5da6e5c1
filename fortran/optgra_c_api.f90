!> C entry points.  Each takes the engine state (an opaque pointer made by oginit) first and
!> returns a STATUS_* code; arrays have the lengths implied by the (n, m) given to oginit:
!> n for variables, m+1 for outputs (constraints, bound rows last, then the merit).
module optgra_c_api
   use, intrinsic :: iso_c_binding
   use, intrinsic :: iso_fortran_env, only: int64
   use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, ieee_is_nan
   use optgra_kinds
   use optgra_state
   use optgra_problem, only: problem_set_bounds
   use optgra_driver, only: execute
   use optgra_sensitivity, only: prepare_linearisation, sensitivity_matrices, linear_update, &
                                 valid_linearisation
   implicit none
   private

   public :: oginit, ogclos, ogctyp, ogderi, ogdist, ogvtyp, ogiter, ogomet, ogwlog, ogvsca, &
             ogcsca, ogcpri, ogbnds, ogsopt, ogcdel, ogexec, oggsst, ogssst, ogsens, ogstat, &
             oglimt, ogwhis, ogmult, ogbest, ogbfit, ogblas, ogknow

contains

   !> Create the state of an engine session for n variables and m constraints.
   integer(c_int) function oginit(handle, n, m) bind(c, name='oginit')
      type(c_ptr), intent(out) :: handle
      integer(c_int), value :: n, m
      type(engine_state), pointer :: st
      integer :: ierr, info

      handle = c_null_ptr
      oginit = STATUS_INVALID_ARGUMENT
      if (n < 1 .or. m < 0) return
      allocate (st, stat=ierr)
      oginit = STATUS_OUT_OF_MEMORY
      if (ierr /= 0) return
      call state_allocate(st, int(n), int(m), info)
      if (info /= STATUS_OK) then
         deallocate (st)
         oginit = info
         return
      end if
      handle = c_loc(st)
      oginit = STATUS_OK
   end function oginit

   !> Free everything the session holds.  The handle becomes null.
   integer(c_int) function ogclos(handle) bind(c, name='ogclos')
      type(c_ptr), intent(inout) :: handle
      type(engine_state), pointer :: st

      ogclos = STATUS_OK
      if (.not. c_associated(handle)) return
      call c_f_pointer(handle, st)
      deallocate (st)
      handle = c_null_ptr
   end function ogclos

   !> Output types (m+1): 0 equality, 1 "c >= 0", -1 "c <= 0", -2 ignored; merit 1 max, -1 min.
   integer(c_int) function ogctyp(handle, types) bind(c, name='ogctyp')
      type(c_ptr), value :: handle
      integer(c_int), intent(in) :: types(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogctyp = STATUS_INVALID_ARGUMENT
      associate (p => st%problem)
         if (any(types(1:p%m) < TYPE_IGNORED .or. types(1:p%m) > TYPE_GREATER)) return
         if (abs(types(p%m + 1)) /= 1) return
         p%output_type = types(1:p%m + 1)
      end associate
      ogctyp = STATUS_OK
   end function ogctyp

   !> Derivative mode (-1 check, 0 none, 1 user, 2 central, 3 forward, 4 adaptive differences:
   !> forward ones until an optimisation converges, central ones from there) and the raw
   !> finite-difference step of each variable (n, positive).
   integer(c_int) function ogderi(handle, mode, steps) bind(c, name='ogderi')
      type(c_ptr), value :: handle
      integer(c_int), value :: mode
      real(c_double), intent(in) :: steps(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogderi = STATUS_INVALID_ARGUMENT
      if (mode < DERIVATIVES_CHECK .or. mode > DERIVATIVES_ADAPTIVE) return
      associate (p => st%problem)
         if (.not. all(ieee_is_finite(steps(1:p%n)) .and. steps(1:p%n) > 0.0_dp)) return
         p%derivative_mode = mode
         p%difference_step = steps(1:p%n)
      end associate
      ogderi = STATUS_OK
   end function ogderi

   !> Trust radius per iteration and curvature-probe step, both in scaled units, both >= 0.
   integer(c_int) function ogdist(handle, max_distance, probe_distance) bind(c, name='ogdist')
      type(c_ptr), value :: handle
      real(c_double), value :: max_distance, probe_distance
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogdist = STATUS_INVALID_ARGUMENT
      if (ieee_is_nan(max_distance) .or. ieee_is_nan(probe_distance)) return
      if (max_distance < 0.0_dp .or. probe_distance < 0.0_dp) return
      if (.not. ieee_is_finite(probe_distance)) return
      st%problem%max_distance = max_distance
      st%problem%probe_distance = probe_distance
      ogdist = STATUS_OK
   end function ogdist

   !> Variable types (n): 0 free, 1 fixed (a parameter).
   integer(c_int) function ogvtyp(handle, types) bind(c, name='ogvtyp')
      type(c_ptr), value :: handle
      integer(c_int), intent(in) :: types(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogvtyp = STATUS_INVALID_ARGUMENT
      if (any(types(1:st%problem%n) /= 0 .and. types(1:st%problem%n) /= 1)) return
      st%problem%fixed = types(1:st%problem%n) == 1
      ogvtyp = STATUS_OK
   end function ogvtyp

   !> Iteration limits: total, until first feasible, optimisation after first feasible,
   !> divergence window, stagnation window.  All >= 0; clamped to the total when used.
   integer(c_int) function ogiter(handle, total, correction, optimisation, divergence, &
                                  stagnation) bind(c, name='ogiter')
      type(c_ptr), value :: handle
      integer(c_int), value :: total, correction, optimisation, divergence, stagnation
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogiter = STATUS_INVALID_ARGUMENT
      if (min(total, correction, optimisation, divergence, stagnation) < 0) return
      st%problem%max_iterations = total
      st%problem%max_correction_iterations = correction
      st%problem%max_optimisation_iterations = optimisation
      st%problem%max_divergence_iterations = divergence
      st%problem%max_stagnation_iterations = stagnation
      ogiter = STATUS_OK
   end function ogiter

   !> Search direction: 0 steepest ascent, 1 modified spectral CG, 2 spectral CG, 3 Fletcher-Reeves.
   integer(c_int) function ogomet(handle, method) bind(c, name='ogomet')
      type(c_ptr), value :: handle
      integer(c_int), value :: method
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogomet = STATUS_INVALID_ARGUMENT
      if (method < 0 .or. method > 3) return
      st%problem%method = method
      ogomet = STATUS_OK
   end function ogomet

   !> Log level (0 silent .. 4 full detail) and the callback that receives the lines.
   integer(c_int) function ogwlog(handle, level, callback, context) bind(c, name='ogwlog')
      type(c_ptr), value :: handle
      integer(c_int), value :: level
      type(c_funptr), value :: callback
      type(c_ptr), value :: context
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogwlog = STATUS_INVALID_ARGUMENT
      if (level < 0) return
      st%log%level = level
      st%log%callback = callback
      st%log%context = context
      ogwlog = STATUS_OK
   end function ogwlog

   !> Variable scales s (n, positive): the engine works with x = X / s.
   integer(c_int) function ogvsca(handle, scales) bind(c, name='ogvsca')
      type(c_ptr), value :: handle
      real(c_double), intent(in) :: scales(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogvsca = STATUS_INVALID_ARGUMENT
      if (.not. all(ieee_is_finite(scales(1:st%problem%n)) .and. scales(1:st%problem%n) > 0.0_dp)) return
      st%problem%variable_scale = scales(1:st%problem%n)
      ogvsca = STATUS_OK
   end function ogvsca

   !> Output tolerances (m+1, positive); a constraint tolerance >= 1e9 ignores the constraint.
   integer(c_int) function ogcsca(handle, tolerances) bind(c, name='ogcsca')
      type(c_ptr), value :: handle
      real(c_double), intent(in) :: tolerances(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogcsca = STATUS_INVALID_ARGUMENT
      associate (t => tolerances(1:st%problem%m + 1))
         if (.not. all(t > 0.0_dp .and. .not. ieee_is_nan(t))) return
         if (.not. ieee_is_finite(t(st%problem%m + 1))) return
         st%problem%tolerance = t
      end associate
      ogcsca = STATUS_OK
   end function ogcsca

   !> Correction priorities (m+1; lower is handled first; the merit's entry is unused).
   integer(c_int) function ogcpri(handle, priorities) bind(c, name='ogcpri')
      type(c_ptr), value :: handle
      integer(c_int), intent(in) :: priorities(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      st%problem%priority = priorities(1:st%problem%m + 1)
      ogcpri = STATUS_OK
   end function ogcpri

   !> Box bounds (n each; +-inf where absent).  Each finite bound becomes a constraint row formed
   !> by the engine: lower bounds first, then upper bounds, each in variable order, as the last
   !> rows before the merit.  The fitness callback then delivers only the other constraints.
   integer(c_int) function ogbnds(handle, lower, upper) bind(c, name='ogbnds')
      type(c_ptr), value :: handle
      real(c_double), intent(in) :: lower(*), upper(*)
      type(engine_state), pointer :: st
      integer :: info

      call c_f_pointer(handle, st)
      ogbnds = STATUS_INVALID_ARGUMENT
      if (any(ieee_is_nan(lower(1:st%problem%n))) .or. any(ieee_is_nan(upper(1:st%problem%n)))) return
      call problem_set_bounds(st%problem, lower(1:st%problem%n), upper(1:st%problem%n), info)
      ogbnds = info
   end function ogbnds

   !> What ogexec does: 0 optimise; -1 linearise at x and save it with its active set (nothing
   !> moves); 1 linear update with new outputs at the saved point (one fitness call, no
   !> derivatives); 2 linear update with the constraints shifted by ogcdel (no callback at all).
   integer(c_int) function ogsopt(handle, mode) bind(c, name='ogsopt')
      type(c_ptr), value :: handle
      integer(c_int), value :: mode
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogsopt = STATUS_INVALID_ARGUMENT
      if (all(mode /= [MODE_OPTIMISE, MODE_PREPARE, MODE_NEW_OUTPUTS, MODE_SHIFTED_OUTPUTS])) return
      st%sensitivity_mode = mode
      ogsopt = STATUS_OK
   end function ogsopt

   !> Raw constraint shifts Delta (m) for mode 2: constraint j reads C_j(X) - Delta_j.
   integer(c_int) function ogcdel(handle, deltas) bind(c, name='ogcdel')
      type(c_ptr), value :: handle
      real(c_double), intent(in) :: deltas(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogcdel = STATUS_INVALID_ARGUMENT
      if (.not. all(ieee_is_finite(deltas(1:st%problem%m)))) return
      st%saved%shift = deltas(1:st%problem%m)
      ogcdel = STATUS_OK
   end function ogcdel

   !> Run in the mode set by ogsopt.  x (n): start in, result out (mode 0); the point to linearise
   !> (mode -1, unchanged); the updated point out (modes 1, 2).  y (m+1): raw outputs at x (for
   !> updates, the linear model's).  result: the RESULT_* code (mode 0), 1 feasible / 0 not
   !> (mode -1), 1 updated / 0 not (modes 1, 2).  iterations: linearisations made.
   integer(c_int) function ogexec(handle, x, y, result, iterations, fitness, gradient, context) &
      bind(c, name='ogexec')
      type(c_ptr), value :: handle
      real(c_double), intent(inout) :: x(*)
      real(c_double), intent(out) :: y(*)
      integer(c_int), intent(out) :: result, iterations
      type(c_funptr), value :: fitness, gradient
      type(c_ptr), value :: context
      type(engine_state), pointer :: st
      integer :: res, its, info

      call c_f_pointer(handle, st)
      result = 0
      iterations = 0
      st%stop_reason = STOP_NONE   ! set again only by an optimisation that runs
      ogexec = STATUS_INVALID_ARGUMENT
      associate (n => st%problem%n, m => st%problem%m)
         if (st%sensitivity_mode <= MODE_OPTIMISE .and. .not. all(ieee_is_finite(x(1:n)))) return
         st%evaluator%fitness = fitness
         st%evaluator%gradient = gradient
         st%evaluator%context = context
         st%evaluator%fitness_calls = 0
         st%evaluator%gradient_calls = 0
         ! The limits bound optimisations; sensitivity calls are a single evaluation at most.
         st%evaluator%max_fitness_calls = 0
         st%evaluator%deadline = 0
         ! Adaptive differences start forward in an optimisation only: a sensitivity call's
         ! single linearisation is the one its answers rest on.
         st%evaluator%forward_differences = .false.
         if (st%sensitivity_mode == MODE_OPTIMISE) then
            st%evaluator%max_fitness_calls = st%problem%max_fitness_calls
            st%evaluator%deadline = deadline_after(st%problem%time_limit)
            st%evaluator%forward_differences = st%problem%derivative_mode == DERIVATIVES_ADAPTIVE
         end if
         st%have_multipliers = .false.
         its = 0
         select case (st%sensitivity_mode)
         case (MODE_OPTIMISE)
            call execute(st, x(1:n), y(1:m + 1), res, its, info)
         case (MODE_PREPARE)
            call prepare_linearisation(st, x(1:n), y(1:m + 1), res, info)
            its = 1
         case default
            call linear_update(st, x(1:n), y(1:m + 1), res, info)
         end select
      end associate
      result = res
      iterations = its
      ogexec = info
   end function ogexec

   !> Copy the saved linearisation out: point (n), values (m+1), gradients (C: row-major
   !> (m+1, n), row j the gradient of output j), status (m: > 0 position in the active list,
   !> 0 near the boundary, -1 passive, -2 ignored).  STATUS_NOT_READY before a mode -1 run.
   integer(c_int) function oggsst(handle, point, values, gradients, status) bind(c, name='oggsst')
      type(c_ptr), value :: handle
      real(c_double), intent(out) :: point(*), values(*), gradients(*)
      integer(c_int), intent(out) :: status(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      oggsst = STATUS_NOT_READY
      if (.not. st%saved%present) return
      associate (n => st%problem%n, m => st%problem%m)
         point(1:n) = st%saved%point
         values(1:m + 1) = st%saved%values
         gradients(1:n * (m + 1)) = reshape(st%saved%gradients, [n * (m + 1)])
         status(1:m) = st%saved%status
      end associate
      oggsst = STATUS_OK
   end function oggsst

   !> Give back a linearisation copied out by oggsst (same layout), checked for consistency.
   integer(c_int) function ogssst(handle, point, values, gradients, status) bind(c, name='ogssst')
      type(c_ptr), value :: handle
      real(c_double), intent(in) :: point(*), values(*), gradients(*)
      integer(c_int), intent(in) :: status(*)
      type(engine_state), pointer :: st
      real(dp), allocatable :: matrix(:, :)

      call c_f_pointer(handle, st)
      ogssst = STATUS_INVALID_ARGUMENT
      associate (n => st%problem%n, m => st%problem%m)
         matrix = reshape(gradients(1:n * (m + 1)), [n, m + 1])
         if (.not. valid_linearisation(point(1:n), values(1:m + 1), matrix, status(1:m), n)) return
         st%saved%point = point(1:n)
         st%saved%values = values(1:m + 1)
         call move_alloc(matrix, st%saved%gradients)
         st%saved%status = status(1:m)
         st%saved%present = .true.
      end associate
      ogssst = STATUS_OK
   end function ogssst

   !> Sensitivity matrices of the saved linearisation, raw units, C row-major: active (m) 0/1,
   !> cc (m+1, m), cp (m+1, n), vc (n, m), vp (n, n); see optgra_sensitivity for their meaning.
   integer(c_int) function ogsens(handle, active, cc, cp, vc, vp) bind(c, name='ogsens')
      type(c_ptr), value :: handle
      integer(c_int), intent(out) :: active(*)
      real(c_double), intent(out) :: cc(*), cp(*), vc(*), vp(*)
      type(engine_state), pointer :: st
      real(dp), allocatable :: cc_t(:, :), cp_t(:, :), vc_t(:, :), vp_t(:, :)
      integer, allocatable :: flags(:)
      integer :: info

      call c_f_pointer(handle, st)
      associate (n => st%problem%n, m => st%problem%m)
         allocate (flags(m), cc_t(m, m + 1), cp_t(n, m + 1), vc_t(m, n), vp_t(n, n), stat=info)
         ogsens = STATUS_OUT_OF_MEMORY
         if (info /= 0) return
         call sensitivity_matrices(st, flags, cc_t, cp_t, vc_t, vp_t, info)
         ogsens = info
         if (info /= STATUS_OK) return
         active(1:m) = flags
         cc(1:m * (m + 1)) = reshape(cc_t, [m * (m + 1)])
         cp(1:n * (m + 1)) = reshape(cp_t, [n * (m + 1)])
         vc(1:m * n) = reshape(vc_t, [m * n])
         vp(1:n * n) = reshape(vp_t, [n * n])
      end associate
   end function ogsens

   !> Limits of a run: at most max_fitness_calls fitness calls (0: no limit) and seconds of wall
   !> clock (0 or +inf: no limit), both checked before every evaluation.
   integer(c_int) function oglimt(handle, max_fitness_calls, seconds) bind(c, name='oglimt')
      type(c_ptr), value :: handle
      integer(c_int), value :: max_fitness_calls
      real(c_double), value :: seconds
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      oglimt = STATUS_INVALID_ARGUMENT
      if (max_fitness_calls < 0 .or. ieee_is_nan(seconds) .or. seconds < 0.0_dp) return
      st%problem%max_fitness_calls = max_fitness_calls
      st%problem%time_limit = merge(seconds, 0.0_dp, ieee_is_finite(seconds))
      oglimt = STATUS_OK
   end function oglimt

   !> The callback that receives every iteration's point and raw outputs (null: none).
   integer(c_int) function ogwhis(handle, callback, context) bind(c, name='ogwhis')
      type(c_ptr), value :: handle
      type(c_funptr), value :: callback
      type(c_ptr), value :: context
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      st%log%history = callback
      st%log%history_context = context
      ogwhis = STATUS_OK
   end function ogwhis

   !> The BLAS kernels of the blocked factorisation of many equalities: the addresses of dgemm and
   !> dtrmm with the reference BLAS's Fortran interface (32-bit integers; character arguments
   !> without hidden lengths).  Both null, or this call never made: built-in products (slower).
   integer(c_int) function ogblas(handle, gemm, trmm) bind(c, name='ogblas')
      type(c_ptr), value :: handle
      type(c_funptr), value :: gemm, trmm
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogblas = STATUS_INVALID_ARGUMENT
      if (c_associated(gemm) .neqv. c_associated(trmm)) return
      st%problem%blas%gemm = gemm
      st%problem%blas%trmm = trmm
      ogblas = STATUS_OK
   end function ogblas

   !> A raw point x (n) where the caller knows the fitness callback's outputs (n_values =
   !> m_user+1, finite; bounds set before): an optimisation that starts exactly there takes them
   !> instead of evaluating the start.
   integer(c_int) function ogknow(handle, x, n_values, values) bind(c, name='ogknow')
      type(c_ptr), value :: handle
      real(c_double), intent(in) :: x(*), values(*)
      integer(c_int), value :: n_values
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogknow = STATUS_INVALID_ARGUMENT
      associate (p => st%problem)
         if (n_values /= p%m_user + 1) return
         if (.not. (all(ieee_is_finite(x(1:p%n))) .and. all(ieee_is_finite(values(1:p%m_user + 1))))) return
         p%known_point = x(1:p%n)
         p%known_values = values(1:p%m_user + 1)
      end associate
      ogknow = STATUS_OK
   end function ogknow

   !> The callback that evaluates a whole finite-difference stencil in one call (null: none, each
   !> point goes to the fitness callback of ogexec).  It receives the context given to ogexec.
   !> Used only when the budget left allows the whole stencil; results are the same either way.
   integer(c_int) function ogbfit(handle, callback) bind(c, name='ogbfit')
      type(c_ptr), value :: handle
      type(c_funptr), value :: callback
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      st%evaluator%batch_fitness = callback
      ogbfit = STATUS_OK
   end function ogbfit

   !> After an optimal run: the active constraints (m, 0/1) at the solution and their Lagrange
   !> multipliers (m, raw units, 0 when inactive), grad F + sum_k lambda_k grad C_k = 0 over the
   !> free variables.  STATUS_NOT_READY after any other run.
   integer(c_int) function ogmult(handle, active, multipliers) bind(c, name='ogmult')
      type(c_ptr), value :: handle
      integer(c_int), intent(out) :: active(*)
      real(c_double), intent(out) :: multipliers(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogmult = STATUS_NOT_READY
      if (.not. st%have_multipliers) return
      active(1:st%problem%m) = merge(1, 0, st%active)
      multipliers(1:st%problem%m) = st%multipliers
      ogmult = STATUS_OK
   end function ogmult

   !> The best point evaluated in the last run (raw x, n) and its raw outputs (m+1): feasible
   !> before infeasible, then the better objective or the smaller violation.  Available however
   !> the run ended, e.g. after a callback failed.  STATUS_NOT_READY if nothing was evaluated.
   integer(c_int) function ogbest(handle, x, y) bind(c, name='ogbest')
      type(c_ptr), value :: handle
      real(c_double), intent(out) :: x(*), y(*)
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      ogbest = STATUS_NOT_READY
      if (.not. allocated(st%evaluator%best_point)) return
      if (.not. st%evaluator%have_best) return
      x(1:st%problem%n) = st%evaluator%best_point
      y(1:st%problem%m + 1) = st%evaluator%best_outputs
      ogbest = STATUS_OK
   end function ogbest

   !> The system_clock count at which seconds will have passed (0: no deadline).
   integer(int64) function deadline_after(seconds)
      real(dp), intent(in) :: seconds
      integer(int64) :: now, rate

      deadline_after = 0
      if (seconds <= 0.0_dp) return
      call system_clock(now, rate)
      deadline_after = now + max(1_int64, int(min(seconds * real(rate, dp), 1.0e18_dp), int64))
   end function deadline_after

   !> Counters of the last run and, after STATUS_NONFINITE_OUTPUT, the engine index (1-based)
   !> of the output that was not finite.
   integer(c_int) function ogstat(handle, fitness_calls, gradient_calls, nonfinite_output) &
      bind(c, name='ogstat')
      type(c_ptr), value :: handle
      integer(c_int), intent(out) :: fitness_calls, gradient_calls, nonfinite_output
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      fitness_calls = st%evaluator%fitness_calls
      gradient_calls = st%evaluator%gradient_calls
      nonfinite_output = st%evaluator%nonfinite_output
      ogstat = STATUS_OK
   end function ogstat

   !> Why the last optimisation ended: one of the STOP_* codes of optgra_kinds (OG_STOP_* in
   !> optgra.h), a finer reading of its result code.
   integer(c_int) function ogwhy(handle, reason) bind(c, name='ogwhy')
      type(c_ptr), value :: handle
      integer(c_int), intent(out) :: reason
      type(engine_state), pointer :: st

      call c_f_pointer(handle, st)
      reason = st%stop_reason
      ogwhy = STATUS_OK
   end function ogwhy

end module optgra_c_api
