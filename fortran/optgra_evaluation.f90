!> Evaluation of the outputs and their derivatives.
!>
!> The user is called with raw variables X = x * s and returns raw outputs in engine order
!> (constraints 1..m_user, then the merit); the engine appends the bound rows and normalises:
!>     c_j = C_j / sigma_j,      G(i, j) = dc_j/dx_i = (s_i / sigma_j) dC_j/dX_i.
!> G is stored transposed, one column per output.  The working Jacobian has the rows of fixed
!> variables set to zero so that no projection ever moves them; the full one keeps them for the
!> sensitivity analysis.
!>
!> The last evaluated point is remembered, so asking twice for the same point costs nothing.
!>
!> With a batch callback, the points of a finite-difference stencil are handed over in one call
!> (the caller may evaluate them in parallel); each point still counts as one fitness call and is
!> checked, offered as the best point and differenced exactly as when evaluated one by one.
module optgra_evaluation
   use, intrinsic :: iso_c_binding
   use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
   use, intrinsic :: iso_fortran_env, only: int64
   use optgra_kinds
   use optgra_vector, only: norm, all_finite
   use optgra_problem, only: problem_data, total_violation, raw_point, box_room
   use optgra_log
   implicit none
   private

   public :: evaluator, fitness_callback, gradient_callback, batch_fitness_callback
   public :: evaluator_allocate, evaluate_values, evaluate_derivatives, raw_outputs_of, limit_reached
   public :: remember_known_start, recent_near, within_budget
   public :: set_bound_columns, difference_evaluations, use_central_differences

   !> evaluate_values answers from memory for the last RECENT_POINTS points it evaluated: a
   !> step that is taken back, or a probe repeated from the same linearisation, asks again for
   !> points bitwise the same.
   integer, parameter :: RECENT_POINTS = 8

   abstract interface
      !> Fill values(1:n_out) with the raw outputs at x (constraints, then merit).  Return 0 to
      !> continue, anything else to stop the engine.
      integer(c_int) function fitness_callback(context, n, x, n_out, values) bind(c)
         import :: c_ptr, c_int, c_double
         type(c_ptr), value :: context
         integer(c_int), value :: n, n_out
         real(c_double), intent(in) :: x(n)
         real(c_double), intent(out) :: values(n_out)
      end function fitness_callback

      !> Fill jacobian(:, j) with the gradient of raw output j at x.  C sees this as a row-major
      !> (n_out, n) array.  Return 0 to continue, anything else to stop the engine.
      integer(c_int) function gradient_callback(context, n, x, n_out, jacobian) bind(c)
         import :: c_ptr, c_int, c_double
         type(c_ptr), value :: context
         integer(c_int), value :: n, n_out
         real(c_double), intent(in) :: x(n)
         real(c_double), intent(out) :: jacobian(n, n_out)
      end function gradient_callback

      !> Fill values(:, k) with the raw outputs at points(:, k), k = 1..n_points (C sees both as
      !> row-major arrays, one row per point).  Return 0 to continue, anything else to stop.
      integer(c_int) function batch_fitness_callback(context, n, n_points, points, n_out, values) bind(c)
         import :: c_ptr, c_int, c_double
         type(c_ptr), value :: context
         integer(c_int), value :: n, n_points, n_out
         real(c_double), intent(in) :: points(n, n_points)
         real(c_double), intent(out) :: values(n_out, n_points)
      end function batch_fitness_callback
   end interface

   type :: evaluator
      type(c_funptr) :: fitness = c_null_funptr
      type(c_funptr) :: gradient = c_null_funptr
      !> Optional: evaluates a whole finite-difference stencil in one call.
      type(c_funptr) :: batch_fitness = c_null_funptr
      type(c_ptr) :: context = c_null_ptr
      !> First failure (STATUS_*); once set, no further callback is made.
      integer :: status = STATUS_OK
      !> Engine index of the output that was not finite, if that was the failure.
      integer :: nonfinite_output = 0
      integer :: fitness_calls = 0
      integer :: gradient_calls = 0
      !> Limits of the run: fitness calls (0: none) and a system_clock deadline (0: none).
      integer :: max_fitness_calls = 0
      integer(int64) :: deadline = 0
      !> The best point evaluated so far: feasible (within tolerance) before infeasible, then the
      !> higher internal merit, or the smaller total violation (in tolerances).
      logical :: have_best = .false.
      real(dp) :: best_violation = 0.0_dp
      real(dp) :: best_merit = 0.0_dp
      real(dp), allocatable :: best_point(:)      ! (n) raw X
      real(dp), allocatable :: best_outputs(:)    ! (m+1) raw outputs there
      logical :: have_cache = .false.
      real(dp), allocatable :: cached_point(:)    ! (n) raw X of the last evaluation
      real(dp), allocatable :: cached_outputs(:)  ! (m+1) raw outputs there
      !> The last RECENT_POINTS points evaluated by evaluate_values (a ring; recent_count of
      !> them filled, the newest at recent_newest), as raw X and as the engine's internal x, and
      !> their raw outputs.
      integer :: recent_count = 0
      integer :: recent_newest = 0
      real(dp), allocatable :: recent_points(:, :)  ! (n, RECENT_POINTS)
      real(dp), allocatable :: recent_x(:, :)       ! (n, RECENT_POINTS)
      real(dp), allocatable :: recent_outputs(:, :) ! (m+1, RECENT_POINTS)
      !> user_jacobian holds the derivatives at derivative_point (raw X), with the parameters'
      !> rows when derivatives_with_parameters; the earlier_* fields the derivatives taken
      !> before them (the origin of a step taken back).
      logical :: have_derivatives = .false.
      logical :: derivatives_with_parameters = .false.
      logical :: derivatives_forward = .false.        ! by forward differences
      real(dp), allocatable :: derivative_point(:)  ! (n)
      real(dp), allocatable :: user_values(:)     ! (m_user+1)
      real(dp), allocatable :: user_jacobian(:, :) ! (n, m_user+1)
      logical :: have_earlier_derivatives = .false.
      logical :: earlier_with_parameters = .false.
      logical :: earlier_forward = .false.
      !> Adaptive differences (DERIVATIVES_ADAPTIVE) are still forward ones: set at the start of
      !> an optimisation, cleared for good by use_central_differences.
      logical :: forward_differences = .false.
      real(dp), allocatable :: earlier_point(:)     ! (n)
      real(dp), allocatable :: earlier_jacobian(:, :) ! (n, m_user+1)
   end type evaluator

contains

   subroutine evaluator_allocate(ev, p, info)
      type(evaluator), intent(inout) :: ev
      type(problem_data), intent(in) :: p
      integer, intent(out) :: info
      integer :: ierr

      if (allocated(ev%cached_point)) deallocate (ev%cached_point, ev%cached_outputs, &
                                                  ev%user_values, ev%user_jacobian, &
                                                  ev%best_point, ev%best_outputs, &
                                                  ev%recent_points, ev%recent_x, ev%recent_outputs, &
                                                  ev%derivative_point, ev%earlier_point, &
                                                  ev%earlier_jacobian)
      allocate (ev%cached_point(p%n), ev%cached_outputs(p%m + 1), ev%user_values(p%m_user + 1), &
                ev%user_jacobian(p%n, p%m_user + 1), ev%best_point(p%n), ev%best_outputs(p%m + 1), &
                ev%recent_points(p%n, RECENT_POINTS), ev%recent_x(p%n, RECENT_POINTS), &
                ev%recent_outputs(p%m + 1, RECENT_POINTS), &
                ev%derivative_point(p%n), ev%earlier_point(p%n), ev%earlier_jacobian(p%n, p%m_user + 1), &
                stat=ierr)
      info = merge(STATUS_OK, STATUS_OUT_OF_MEMORY, ierr == 0)
      ev%have_cache = .false.
      ev%recent_count = 0
      ev%recent_newest = 0
      ev%have_derivatives = .false.
      ev%have_earlier_derivatives = .false.
      ev%have_best = .false.
      ev%status = STATUS_OK
      ev%nonfinite_output = 0
   end subroutine evaluator_allocate

   !> Engine index of user output k (the merit is delivered last but lives at m+1).
   pure integer function engine_index(p, k)
      type(problem_data), intent(in) :: p
      integer, intent(in) :: k
      engine_index = merge(k, p%m + 1, k <= p%m_user)
   end function engine_index

   !> True (and the run stopped) once the deadline has passed.
   logical function past_deadline(ev)
      type(evaluator), intent(inout) :: ev
      integer(int64) :: now

      past_deadline = .false.
      if (ev%deadline == 0) return
      call system_clock(now)
      past_deadline = now >= ev%deadline
      if (past_deadline) ev%status = STATUS_DEADLINE
   end function past_deadline

   !> The run was stopped by one of its limits, or before a point it cannot evaluate (not
   !> finite), rather than by a failure: it ends where it stood.
   pure logical function limit_reached(ev)
      type(evaluator), intent(in) :: ev
      limit_reached = ev%status == STATUS_DEADLINE .or. ev%status == STATUS_BUDGET_SPENT &
                      .or. ev%status == STATUS_NONFINITE_POINT
   end function limit_reached

   !> Whether another `calls` fitness calls fit in the budget (max_fitness_calls 0: no limit).
   pure logical function within_budget(ev, calls)
      type(evaluator), intent(in) :: ev
      integer, intent(in) :: calls
      within_budget = ev%max_fitness_calls <= 0 .or. ev%fitness_calls + calls <= ev%max_fitness_calls
   end function within_budget

   !> Whether a fitness call at points that are (finite_points) all finite may be made now; if
   !> not, ev%status says why.
   logical function may_evaluate(ev, finite_points)
      type(evaluator), intent(inout) :: ev
      logical, intent(in) :: finite_points

      may_evaluate = .false.
      if (ev%status /= STATUS_OK) return
      if (.not. finite_points) then
         ev%status = STATUS_NONFINITE_POINT
         return
      end if
      if (.not. within_budget(ev, 1)) then
         ev%status = STATUS_BUDGET_SPENT
         return
      end if
      if (past_deadline(ev)) return
      may_evaluate = .true.
   end function may_evaluate

   !> Raw outputs at raw point X, without the cache.  ev%status reports a failure.
   subroutine raw_outputs_of(p, ev, point, raw)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: point(:)
      real(dp), intent(out) :: raw(:)
      procedure(fitness_callback), pointer :: fitness

      raw = 0.0_dp
      if (.not. may_evaluate(ev, all_finite(point))) return
      if (.not. c_associated(ev%fitness)) then
         ev%status = STATUS_NOT_READY
         return
      end if
      call c_f_procpointer(ev%fitness, fitness)
      ev%fitness_calls = ev%fitness_calls + 1
      if (fitness(ev%context, int(p%n, c_int), point, int(p%m_user + 1, c_int), ev%user_values) /= 0) then
         ev%status = STATUS_CALLBACK_FAILED
         return
      end if
      call accept_outputs(p, ev, point, ev%user_values, raw)
   end subroutine raw_outputs_of

   !> Raw outputs at the raw points (:, k), in order: in one batch call when there is a batch
   !> callback and the budget allows every point, otherwise one call per point.  Both ways count,
   !> check and keep the points alike, and stop at the same point when an output is not finite.
   !> A batch is one callback: the deadline is checked before it, and a failing batch counts all
   !> its points (the caller may have evaluated any of them).
   subroutine raw_outputs_of_all(p, ev, points, raw)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: points(:, :)
      real(dp), intent(out) :: raw(:, :)
      procedure(batch_fitness_callback), pointer :: batch
      real(dp), allocatable :: values(:, :)
      integer :: k, n_points, ierr
      logical :: finite_points

      raw = 0.0_dp
      n_points = size(points, 2)
      if (n_points == 0) return
      if (.not. (c_associated(ev%batch_fitness) .and. within_budget(ev, n_points))) then
         do k = 1, n_points
            call raw_outputs_of(p, ev, points(:, k), raw(:, k))
            if (ev%status /= STATUS_OK) return
         end do
         return
      end if
      finite_points = .true.
      do k = 1, n_points
         finite_points = finite_points .and. all_finite(points(:, k))
      end do
      if (.not. may_evaluate(ev, finite_points)) return
      allocate (values(p%m_user + 1, n_points), stat=ierr)
      if (ierr /= 0) then
         ev%status = STATUS_OUT_OF_MEMORY
         return
      end if
      call c_f_procpointer(ev%batch_fitness, batch)
      if (batch(ev%context, int(p%n, c_int), int(n_points, c_int), points, int(p%m_user + 1, c_int), &
                values) /= 0) then
         ev%fitness_calls = ev%fitness_calls + n_points
         ev%status = STATUS_CALLBACK_FAILED
         return
      end if
      do k = 1, n_points
         ev%fitness_calls = ev%fitness_calls + 1
         call accept_outputs(p, ev, points(:, k), values(:, k), raw(:, k))
         if (ev%status /= STATUS_OK) return
      end do
   end subroutine raw_outputs_of_all

   !> Check the user's outputs at point, put them into engine order with the bound rows and offer
   !> them as the best point.
   subroutine accept_outputs(p, ev, point, user_values, raw)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: point(:), user_values(:)
      real(dp), intent(out) :: raw(:)
      integer :: k, b

      raw = 0.0_dp
      do k = 1, p%m_user + 1
         if (.not. ieee_is_finite(user_values(k))) then
            ev%status = STATUS_NONFINITE_OUTPUT
            ev%nonfinite_output = engine_index(p, k)
            return
         end if
      end do
      raw(1:p%m_user) = user_values(1:p%m_user)
      raw(p%m + 1) = user_values(p%m_user + 1)
      do b = 1, p%n_bounds
         raw(p%m_user + b) = p%bound_sign(b) * (point(p%bound_variable(b)) - p%bound_value(b))
      end do
      call offer_best(p, ev, point, raw)
   end subroutine accept_outputs

   !> Keep (point, raw) if it is the best evaluation so far.
   subroutine offer_best(p, ev, point, raw)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: point(:), raw(:)
      real(dp) :: violation, merit
      logical :: better

      violation = total_violation(p%kind(1:p%m), raw(1:p%m) / p%output_scale(1:p%m))
      merit = raw(p%m + 1) / p%output_scale(p%m + 1)
      if (.not. ev%have_best) then
         better = .true.
      else if (violation == 0.0_dp .and. ev%best_violation == 0.0_dp) then
         better = merit > ev%best_merit
      else
         better = violation < ev%best_violation
      end if
      if (.not. better) return
      ev%have_best = .true.
      ev%best_violation = violation
      ev%best_merit = merit
      ev%best_point = point
      ev%best_outputs = raw
   end subroutine offer_best

   !> Internal outputs c at internal point x (remembered for the recent points).
   subroutine evaluate_values(p, ev, x, c)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: x(:)
      real(dp), intent(out) :: c(:)
      real(dp) :: point(p%n)
      integer :: slot

      point = raw_point(p, x)
      if (.not. (ev%have_cache .and. all(point == ev%cached_point))) then
         slot = recent_slot(ev, point)
         if (slot > 0) then
            ev%cached_outputs = ev%recent_outputs(:, slot)
            ev%have_cache = .true.
         else
            call raw_outputs_of(p, ev, point, ev%cached_outputs)
            ev%have_cache = ev%status == STATUS_OK
            if (.not. ev%have_cache) then
               c = 0.0_dp
               return
            end if
            call remember(ev, point, x, ev%cached_outputs)
         end if
         ev%cached_point = point
      end if
      c = ev%cached_outputs / p%output_scale
   end subroutine evaluate_values

   !> Keep (point, raw outputs) as the newest of the recent points; x is the internal point.
   subroutine remember(ev, point, x, raw)
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: point(:), x(:), raw(:)

      ev%recent_newest = modulo(ev%recent_newest, RECENT_POINTS) + 1
      ev%recent_count = min(ev%recent_count + 1, RECENT_POINTS)
      ev%recent_points(:, ev%recent_newest) = point
      ev%recent_x(:, ev%recent_newest) = x
      ev%recent_outputs(:, ev%recent_newest) = raw
   end subroutine remember

   !> At the start of an optimisation from raw point x_raw (internal point x): when the caller gave the
   !> outputs at exactly this point (problem%known_point, from ogknow), remember them, so that the
   !> start costs no evaluation.  The known point is forgotten after this run's start.
   subroutine remember_known_start(p, ev, x_raw, x)
      type(problem_data), intent(inout) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: x_raw(:), x(:)
      real(dp) :: point(p%n), raw(p%m + 1)

      if (.not. allocated(p%known_point)) return
      point = raw_point(p, x)
      ! Only where the start is evaluated exactly at the known point ((x_raw / s) * s may be a
      ! rounding step away), and for the outputs of the current configuration; used once.
      if (all(p%known_point == x_raw) .and. all(point == x_raw) .and. size(p%known_values) == p%m_user + 1) then
         call accept_outputs(p, ev, point, p%known_values, raw)  ! finite: ogknow checked them
         call remember(ev, point, x, raw)
      end if
      deallocate (p%known_point, p%known_values)
   end subroutine remember_known_start

   !> The slot of the recent points holding exactly this raw point, else 0.
   pure integer function recent_slot(ev, point)
      type(evaluator), intent(in) :: ev
      real(dp), intent(in) :: point(:)
      integer :: slot

      recent_slot = 0
      do slot = 1, ev%recent_count
         if (all(ev%recent_points(:, slot) == point)) then
            recent_slot = slot
            return
         end if
      end do
   end function recent_slot

   !> The slot of a recent point y that internal point x is but for rounding, closer to it than
   !> relative * |y - centre| (centre: the linearisation point the move is made from), else 0.
   pure integer function recent_near(ev, x, centre, relative)
      type(evaluator), intent(in) :: ev
      real(dp), intent(in) :: x(:), centre(:), relative
      integer :: slot

      recent_near = 0
      do slot = 1, ev%recent_count
         associate (y => ev%recent_x(:, slot))
            if (norm(x - y) <= relative * norm(y - centre)) then
               recent_near = slot
               return
            end if
         end associate
      end do
   end function recent_near

   !> Values c and the working Jacobian at x (the rows of fixed variables zero); with
   !> full_jacobian, also the Jacobian with the parameters' rows (which costs their differences).
   !> Only the user's columns (and the merit's) are written: the bound rows' are constant
   !> (set_bound_columns).
   subroutine evaluate_derivatives(p, ev, lg, x, c, jacobian, full_jacobian)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      type(logger), intent(in) :: lg
      real(dp), intent(in) :: x(:)
      real(dp), intent(out) :: c(:)
      real(dp), intent(inout) :: jacobian(:, :)
      real(dp), intent(inout), optional :: full_jacobian(:, :)
      real(dp), allocatable :: check_jacobian(:, :), forward_jacobian(:, :)
      real(dp) :: point(p%n)
      logical :: with_parameters, any_fixed, completing
      integer :: j, k

      with_parameters = present(full_jacobian)
      call evaluate_values(p, ev, x, c)
      if (ev%status /= STATUS_OK .or. p%derivative_mode == DERIVATIVES_NONE) return
      point = raw_point(p, x)
      ! ev%user_jacobian: dC/dX in the user's order, the merit last; kept from the last two calls
      ! (a linearisation point returned to after a step was taken back, whether or not
      ! derivatives were taken where the step ended).
      if (.not. derivatives_at(point)) call swap_derivatives()
      ! Forward differences held where central ones are now asked for (adaptive differences):
      ! only the stencil's backward side is evaluated.
      completing = derivatives_at(point) .and. ev%derivatives_forward .and. central_differences(p, ev)
      if (completing) forward_jacobian = ev%user_jacobian
      if (completing .or. .not. derivatives_at(point)) then
         ev%have_derivatives = .false.
         ev%derivatives_forward = .false.
         select case (p%derivative_mode)
         case (DERIVATIVES_USER)
            call user_jacobian_at(p, ev, point)
         case (DERIVATIVES_CENTRAL, DERIVATIVES_FORWARD, DERIVATIVES_ADAPTIVE)
            ! (forward_jacobian, unallocated unless completing, is then an absent argument)
            call difference_jacobian(p, ev, point, ev%cached_outputs, ev%user_jacobian, with_parameters, &
                                     central_differences(p, ev), forward_jacobian)
            ev%derivatives_forward = .not. central_differences(p, ev)
         case (DERIVATIVES_CHECK)
            call user_jacobian_at(p, ev, point)
            allocate (check_jacobian(p%n, p%m_user + 1))
            call difference_jacobian(p, ev, point, ev%cached_outputs, check_jacobian, with_parameters, .true.)
            if (ev%status == STATUS_OK) call report_mismatches(p, lg, ev%user_jacobian, check_jacobian)
         end select
         if (ev%status /= STATUS_OK) return
         ev%have_derivatives = .true.
         ev%derivatives_with_parameters = with_parameters
         ev%derivative_point = point
      end if
      any_fixed = any(p%fixed)
      do k = 1, p%m_user + 1
         j = engine_index(p, k)
         if (p%kind(j) == TYPE_IGNORED .and. j <= p%m) then
            jacobian(:, j) = 0.0_dp
         else
            jacobian(:, j) = ev%user_jacobian(:, k) * p%variable_scale / p%output_scale(j)
         end if
         ! the parameters' rows are kept; the working Jacobian has zero rows for fixed variables
         if (with_parameters) full_jacobian(:, j) = jacobian(:, j)
         if (any_fixed) where (p%fixed) jacobian(:, j) = 0.0_dp
      end do

   contains

      logical function derivatives_at(point)
         real(dp), intent(in) :: point(:)
         derivatives_at = ev%have_derivatives .and. (ev%derivatives_with_parameters .eqv. with_parameters) &
                          .and. all(point == ev%derivative_point)
      end function derivatives_at

      !> Exchange the last and the earlier derivatives (their storage, not their values).
      subroutine swap_derivatives()
         real(dp), allocatable :: held_point(:), held_jacobian(:, :)
         logical :: held_have, held_with, held_forward

         call move_alloc(ev%earlier_point, held_point)
         call move_alloc(ev%derivative_point, ev%earlier_point)
         call move_alloc(held_point, ev%derivative_point)
         call move_alloc(ev%earlier_jacobian, held_jacobian)
         call move_alloc(ev%user_jacobian, ev%earlier_jacobian)
         call move_alloc(held_jacobian, ev%user_jacobian)
         held_have = ev%have_earlier_derivatives
         held_with = ev%earlier_with_parameters
         held_forward = ev%earlier_forward
         ev%have_earlier_derivatives = ev%have_derivatives
         ev%earlier_with_parameters = ev%derivatives_with_parameters
         ev%earlier_forward = ev%derivatives_forward
         ev%have_derivatives = held_have
         ev%derivatives_with_parameters = held_with
         ev%derivatives_forward = held_forward
      end subroutine swap_derivatives
   end subroutine evaluate_derivatives

   !> The bound rows' columns of a Jacobian, constant during a run: bound row b is
   !> sign_b * (X_i - bound_b), its gradient sign_b s_i / sigma_j e_i, zero in the working
   !> Jacobian (not with_parameters) when variable i is fixed.
   pure subroutine set_bound_columns(p, jacobian, with_parameters)
      type(problem_data), intent(in) :: p
      real(dp), intent(inout) :: jacobian(:, :)
      logical, intent(in) :: with_parameters
      integer :: b, i, j

      do b = 1, p%n_bounds
         j = p%m_user + b
         i = p%bound_variable(b)
         jacobian(:, j) = 0.0_dp
         jacobian(i, j) = p%bound_slope(b)
         if (p%fixed(i) .and. with_parameters) jacobian(i, j) = p%bound_sign(b) * p%variable_scale(i) / p%output_scale(j)
      end do
   end subroutine set_bound_columns

   !> ev%user_jacobian = the user's gradient at point (checked finite).
   subroutine user_jacobian_at(p, ev, point)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: point(:)
      procedure(gradient_callback), pointer :: gradient
      integer :: k

      if (ev%status /= STATUS_OK) return
      if (past_deadline(ev)) return
      if (.not. c_associated(ev%gradient)) then
         ev%status = STATUS_NOT_READY
         return
      end if
      call c_f_procpointer(ev%gradient, gradient)
      ev%gradient_calls = ev%gradient_calls + 1
      if (gradient(ev%context, int(p%n, c_int), point, int(p%m_user + 1, c_int), ev%user_jacobian) /= 0) then
         ev%status = STATUS_CALLBACK_FAILED
         return
      end if
      do k = 1, p%m_user + 1
         if (.not. all_finite(ev%user_jacobian(:, k))) then
            ev%status = STATUS_NONFINITE_OUTPUT
            ev%nonfinite_output = engine_index(p, k)
            return
         end if
      end do
   end subroutine user_jacobian_at

   !> Whether the next linearisation by differences takes central ones (else forward ones).
   pure logical function central_differences(p, ev)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(in) :: ev
      select case (p%derivative_mode)
      case (DERIVATIVES_CENTRAL, DERIVATIVES_CHECK)
         central_differences = .true.
      case (DERIVATIVES_ADAPTIVE)
         central_differences = .not. ev%forward_differences
      case default
         central_differences = .false.
      end select
   end function central_differences

   !> The fitness evaluations that the next linearisation by differences costs: one per free
   !> variable forward, two central (nominally: near a bound a central difference is
   !> one-sided); none with the user's derivatives alone.
   pure integer function difference_evaluations(p, ev)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(in) :: ev
      select case (p%derivative_mode)
      case (DERIVATIVES_NONE, DERIVATIVES_USER)
         difference_evaluations = 0
      case default
         difference_evaluations = merge(2, 1, central_differences(p, ev)) * count(.not. p%fixed)
      end select
   end function difference_evaluations

   !> From now on, adaptive differences are central ones (the forward ones' truncation error,
   !> about h |f''| / 2, is the size of the gradient near a solution; the central ones' is
   !> h^2 |f'''| / 6).  Forward differences held at a point are completed there.
   subroutine use_central_differences(ev)
      type(evaluator), intent(inout) :: ev
      ev%forward_differences = .false.
   end subroutine use_central_differences

   !> Finite differences with the per-variable raw step h_i:
   !>   central: dC/dX_i = (C(X + h_i e_i) - C(X - h_i e_i)) / (2 h_i),
   !>   forward: dC/dX_i = (C(X + h_i e_i) - C(X)) / h_i.
   !> The stencil stays inside the box of the bound rows, where the functions may be defined
   !> only: a side without room for h_i is dropped (one-sided difference on the other side, a
   !> backward one if need be) and when neither side has room, the step goes to the farther
   !> bound.  The stencil is every perturbed point in variable order, evaluated by
   !> raw_outputs_of_all.  raw_jacobian (n, m_user+1) is in the user's order, the merit last.
   !> Fixed variables are not perturbed unless with_parameters is set.  Given the forward
   !> differences at the same point with the same steps, central ones evaluate only their
   !> backward side: C(X + h_i e_i) - C(X) = h_i forward_i, to rounding.
   subroutine difference_jacobian(p, ev, point, base, raw_jacobian, with_parameters, central, forward)
      type(problem_data), intent(in) :: p
      type(evaluator), intent(inout) :: ev
      real(dp), intent(in) :: point(:), base(:)
      real(dp), intent(out) :: raw_jacobian(:, :)
      logical, intent(in) :: with_parameters, central
      real(dp), intent(in), optional :: forward(:, :)
      real(dp), allocatable :: stencil(:, :), outputs(:, :), offset(:, :)
      integer, allocatable :: perturbed(:), user_rows(:), column(:, :)
      real(dp) :: h, h_down, up(p%n), down(p%n)
      integer :: i, k, side, n_points, ierr
      logical :: forward_side_known

      raw_jacobian = 0.0_dp
      if (ev%status /= STATUS_OK) return
      perturbed = pack([(i, i=1, p%n)], with_parameters .or. .not. p%fixed)
      user_rows = [(engine_index(p, k), k=1, p%m_user + 1)]
      ! offset(:, k): the one or two raw offsets of variable perturbed(k); 0 = the base point.
      allocate (offset(2, size(perturbed)), column(2, size(perturbed)))
      call box_room(p, point, up, down)
      do k = 1, size(perturbed)
         i = perturbed(k)
         h = p%difference_step(i)
         if (central .and. h <= up(i) .and. h <= down(i)) then
            offset(:, k) = [h, -h]
         else if (h <= up(i)) then
            offset(:, k) = [h, 0.0_dp]
         else if (h <= down(i)) then
            offset(:, k) = [-h, 0.0_dp]
         else if (max(up(i), down(i)) > 0.0_dp) then
            offset(:, k) = [merge(up(i), -down(i), up(i) >= down(i)), 0.0_dp]
         else
            offset(:, k) = [h, 0.0_dp]
         end if
      end do
      ! with the forward differences given, a two-sided offset's forward side is known
      forward_side_known = present(forward)
      n_points = count(offset /= 0.0_dp)
      if (forward_side_known) n_points = count(offset(2, :) /= 0.0_dp)
      allocate (stencil(p%n, n_points), outputs(p%m + 1, n_points), stat=ierr)
      if (ierr /= 0) then
         ev%status = STATUS_OUT_OF_MEMORY
         return
      end if
      n_points = 0
      column = 0
      do k = 1, size(perturbed)
         do side = 1, 2
            if (offset(side, k) == 0.0_dp .or. (side == 1 .and. forward_side_known)) cycle
            n_points = n_points + 1
            column(side, k) = n_points
            stencil(:, n_points) = point
            stencil(perturbed(k), n_points) = point(perturbed(k)) + offset(side, k)
         end do
      end do
      call raw_outputs_of_all(p, ev, stencil, outputs)
      if (ev%status /= STATUS_OK) return
      ! dC/dX_i = (C(X + a e_i) - C(X + b e_i)) / (a - b), with the offsets as represented.
      do k = 1, size(perturbed)
         i = perturbed(k)
         h = (point(i) + offset(1, k)) - point(i)
         if (column(2, k) > 0) then
            h_down = stencil(i, column(2, k)) - point(i)
            if (forward_side_known) then
               raw_jacobian(i, :) = (h * forward(i, :) + (base(user_rows) - outputs(user_rows, column(2, k)))) &
                                    / (h - h_down)
            else
               raw_jacobian(i, :) = (outputs(user_rows, column(1, k)) - outputs(user_rows, column(2, k))) &
                                    / (h - h_down)
            end if
         else if (forward_side_known) then
            raw_jacobian(i, :) = forward(i, :)   ! one-sided either way
         else
            raw_jacobian(i, :) = (outputs(user_rows, column(1, k)) - base(user_rows)) / h
         end if
      end do
   end subroutine difference_jacobian

   !> Log every entry where the user gradient and central differences disagree: both absolute
   !> and relative difference at least 1e-2, unless both are below 1e-6 in magnitude.
   subroutine report_mismatches(p, lg, analytic, numeric)
      type(problem_data), intent(in) :: p
      type(logger), intent(in) :: lg
      real(dp), intent(in) :: analytic(:, :), numeric(:, :)
      character(len=160) :: line
      real(dp) :: a, d
      integer :: i, j

      do j = 1, p%m_user + 1
         call check_output(j, engine_index(p, j))
      end do
   contains
      subroutine check_output(k, jj)
         integer, intent(in) :: k, jj
         do i = 1, p%n
            a = analytic(i, k)
            d = numeric(i, k)
            if (max(abs(a), abs(d)) < 1.0e-6_dp) cycle
            if (abs(a - d) >= 1.0e-2_dp .and. abs(a - d) >= 1.0e-2_dp * max(abs(a), abs(d))) then
               write (line, '(a,i0,a,i0,a,es14.6,a,es14.6)') 'gradient check: output ', jj, &
                  ' variable ', i, ' user ', a, ' differences ', d
               call log_message(lg, 1, line)
            end if
         end do
      end subroutine check_output
   end subroutine report_mismatches

end module optgra_evaluation
