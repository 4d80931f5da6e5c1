!> Problem data and scaling.
!>
!> The engine works in internal units.  Variables are x = X / s (s: variable scale) and every output
!> j = 1..m+1 (constraints 1..m, merit m+1) is c_j = C_j / sigma_j with sigma_j = -tau_j for a
!> "<= 0" inequality or a minimised merit and sigma_j = tau_j otherwise (tau_j: tolerance).  After
!> that normalisation every inequality reads c_j >= 0, every equality c_j = 0, the merit is
!> maximised, and one unit of c is one tolerance.
!>
!> Constraints m_user+1..m are box-bound rows that the engine forms itself:
!> c = sign * (X_i - bound) with sign +1 for a lower and -1 for an upper bound.
module optgra_problem
   use optgra_kinds
   use optgra_vector, only: dot, norm
   use optgra_blas, only: blas_kernels
   implicit none
   private

   public :: problem_data, problem_allocate, problem_normalise, problem_set_bounds
   public :: is_bound_row, directional_derivative, directional_derivatives, add_gradient
   public :: violated, total_violation, start_point, raw_point, clip_to_box, box_room

   type :: problem_data
      integer :: n = 0         ! variables
      integer :: m = 0         ! constraints, bound rows included
      integer :: m_user = 0    ! constraints delivered by the fitness callback
      integer :: n_bounds = 0  ! bound rows (m - m_user)

      ! Configuration as given by the caller.
      integer, allocatable :: output_type(:)        ! (m+1) TYPE_* ; merit: +1 max, -1 min
      real(dp), allocatable :: tolerance(:)         ! (m+1) tau_j > 0
      integer, allocatable :: priority(:)           ! (m+1) lower is handled first
      real(dp), allocatable :: variable_scale(:)    ! (n) s_i > 0
      logical, allocatable :: fixed(:)              ! (n) parameters never move
      real(dp), allocatable :: fixed_value(:)       ! (n) raw start point of the run (see raw_point)
      real(dp), allocatable :: difference_step(:)   ! (n) raw finite-difference step
      integer, allocatable :: bound_variable(:)     ! (n_bounds) variable of each bound row
      real(dp), allocatable :: bound_value(:)       ! (n_bounds)
      real(dp), allocatable :: bound_sign(:)        ! (n_bounds) +1 lower, -1 upper
      integer :: derivative_mode = DERIVATIVES_USER
      real(dp) :: max_distance = 10.0_dp     ! trust radius per iteration (scaled units)
      real(dp) :: probe_distance = 1.0_dp    ! curvature-probe step (scaled units)
      type(blas_kernels) :: blas             ! dgemm and dtrmm (ogblas), else built-in products
      ! A raw start point whose user outputs are known (ogknow; the caller evaluated it already):
      ! a run from exactly this point takes its values from here.  Unallocated: none.
      real(dp), allocatable :: known_point(:)   ! (n)
      real(dp), allocatable :: known_values(:)  ! (m_user+1) in the fitness callback's order
      integer :: max_iterations = 10
      integer :: max_correction_iterations = 10
      integer :: max_optimisation_iterations = 10
      integer :: max_divergence_iterations = 10
      integer :: max_stagnation_iterations = 10
      integer :: method = 2
      integer :: max_fitness_calls = 0       ! 0: no limit
      real(dp) :: time_limit = 0.0_dp        ! wall-clock seconds per run, 0: no limit

      ! Derived by problem_normalise.
      real(dp), allocatable :: output_scale(:)  ! (m+1) sigma_j
      integer, allocatable :: kind(:)           ! (m+1) TYPE_EQUALITY, TYPE_GREATER or TYPE_IGNORED
      real(dp), allocatable :: bound_slope(:)   ! (n_bounds) the one non-zero of a bound row's
                                                ! internal gradient, sign s_i / sigma_j (0: fixed)
   end type problem_data

contains

   !> Allocate the configuration arrays of an (n, m) problem and set the defaults.
   subroutine problem_allocate(p, n, m, info)
      type(problem_data), intent(inout) :: p
      integer, intent(in) :: n, m
      integer, intent(out) :: info
      integer :: ierr

      p%n = n
      p%m = m
      p%m_user = m
      p%n_bounds = 0
      allocate (p%output_type(m + 1), p%tolerance(m + 1), p%priority(m + 1), &
                p%variable_scale(n), p%fixed(n), p%fixed_value(n), p%difference_step(n), &
                p%bound_variable(0), p%bound_value(0), p%bound_sign(0), &
                p%output_scale(m + 1), p%kind(m + 1), stat=ierr)
      if (ierr /= 0) then
         info = STATUS_OUT_OF_MEMORY
         return
      end if
      p%output_type = TYPE_EQUALITY
      p%output_type(m + 1) = TYPE_LESS
      p%tolerance = 1.0_dp
      p%priority = 1
      p%variable_scale = 1.0_dp
      p%fixed = .false.
      p%fixed_value = 0.0_dp
      p%difference_step = 1.0e-3_dp
      p%output_scale = 1.0_dp
      p%kind = TYPE_EQUALITY
      info = STATUS_OK
   end subroutine problem_allocate

   !> Start a run at raw point x_raw: x is its internal point x_raw / s, and the raw values are
   !> kept so that raw_point returns the fixed variables exactly as given.
   subroutine start_point(p, x_raw, x)
      type(problem_data), intent(inout) :: p
      real(dp), intent(in) :: x_raw(:)
      real(dp), intent(out) :: x(:)

      p%fixed_value = x_raw
      x = x_raw / p%variable_scale
   end subroutine start_point

   !> The raw point X = x * s of internal point x, except that a fixed variable is its start value
   !> itself: (X / s) * s can differ from X by one rounding step, and a parameter must not move.
   pure function raw_point(p, x) result(point)
      type(problem_data), intent(in) :: p
      real(dp), intent(in) :: x(:)
      real(dp) :: point(size(x))

      point = merge(p%fixed_value, x * p%variable_scale, p%fixed)
   end function raw_point

   !> Declare box bounds as constraint rows: one row per finite lower bound (in variable order),
   !> then one per finite upper bound.  They become the last constraints before the merit.
   subroutine problem_set_bounds(p, lower, upper, info)
      use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
      type(problem_data), intent(inout) :: p
      real(dp), intent(in) :: lower(:), upper(:)
      integer, intent(out) :: info
      integer :: i, row, n_rows

      n_rows = count(ieee_is_finite(lower)) + count(ieee_is_finite(upper))
      if (n_rows > p%m) then
         info = STATUS_INVALID_ARGUMENT
         return
      end if
      p%n_bounds = n_rows
      p%m_user = p%m - n_rows
      deallocate (p%bound_variable, p%bound_value, p%bound_sign)
      allocate (p%bound_variable(n_rows), p%bound_value(n_rows), p%bound_sign(n_rows))
      row = 0
      do i = 1, p%n
         if (ieee_is_finite(lower(i))) then
            row = row + 1
            p%bound_variable(row) = i
            p%bound_value(row) = lower(i)
            p%bound_sign(row) = 1.0_dp
         end if
      end do
      do i = 1, p%n
         if (ieee_is_finite(upper(i))) then
            row = row + 1
            p%bound_variable(row) = i
            p%bound_value(row) = upper(i)
            p%bound_sign(row) = -1.0_dp
         end if
      end do
      info = STATUS_OK
   end subroutine problem_set_bounds

   !> Check the configuration and derive sigma_j and the internal kinds.
   subroutine problem_normalise(p, info)
      type(problem_data), intent(inout) :: p
      integer, intent(out) :: info
      integer :: j

      info = STATUS_INVALID_ARGUMENT
      if (any(p%output_type(1:p%m) < TYPE_IGNORED .or. p%output_type(1:p%m) > TYPE_GREATER)) return
      if (abs(p%output_type(p%m + 1)) /= 1) return
      if (any(p%output_type(p%m_user + 1:p%m) /= TYPE_GREATER)) return
      if (.not. all(p%tolerance > 0.0_dp)) return
      if (.not. all(p%variable_scale > 0.0_dp)) return
      if (.not. all(p%difference_step > 0.0_dp)) return
      do j = 1, p%m + 1
         p%output_scale(j) = merge(-p%tolerance(j), p%tolerance(j), p%output_type(j) == TYPE_LESS)
         if (j <= p%m) then
            if (p%output_type(j) == TYPE_IGNORED .or. p%tolerance(j) >= IGNORE_TOLERANCE) then
               p%kind(j) = TYPE_IGNORED
            else if (p%output_type(j) == TYPE_EQUALITY) then
               p%kind(j) = TYPE_EQUALITY
            else
               p%kind(j) = TYPE_GREATER
            end if
         else
            p%kind(j) = TYPE_GREATER
         end if
      end do
      p%bound_slope = [(merge(0.0_dp, p%bound_sign(j) * p%variable_scale(p%bound_variable(j)) &
                                      / p%output_scale(p%m_user + j), p%fixed(p%bound_variable(j))), &
                        j = 1, p%n_bounds)]
      info = STATUS_OK
   end subroutine problem_normalise

   !> True for the engine's own box-bound rows, whose outputs are linear in x.
   elemental logical function is_bound_row(p, j)
      type(problem_data), intent(in) :: p
      integer, intent(in) :: j
      is_bound_row = j > p%m_user .and. j <= p%m
   end function is_bound_row

   !> g_j . d for output j with gradient column gradients(:, j); O(1) for a bound row, whose
   !> gradient has its one non-zero at the bound's variable.
   pure real(dp) function directional_derivative(p, gradients, j, d)
      type(problem_data), intent(in) :: p
      real(dp), intent(in) :: gradients(:, :), d(:)
      integer, intent(in) :: j
      integer :: i

      if (is_bound_row(p, j)) then
         i = p%bound_variable(j - p%m_user)
         directional_derivative = p%bound_slope(j - p%m_user) * d(i)
      else
         directional_derivative = dot(gradients(:, j), d)
      end if
   end function directional_derivative

   !> v = v + coefficient g_j, a bound row's g_j from its slope (its column is not read).
   pure subroutine add_gradient(p, gradients, j, coefficient, v)
      type(problem_data), intent(in) :: p
      real(dp), intent(in) :: gradients(:, :), coefficient
      integer, intent(in) :: j
      real(dp), intent(inout) :: v(:)
      integer :: i

      if (is_bound_row(p, j)) then
         i = p%bound_variable(j - p%m_user)
         v(i) = v(i) + coefficient * p%bound_slope(j - p%m_user)
      else
         v = v + coefficient * gradients(:, j)
      end if
   end subroutine add_gradient

   !> rate(j) = g_j . d for the outputs j = 1..m+1 with wanted(j), 0 for the others; the bound
   !> rows' at once from their slopes.
   pure function directional_derivatives(p, gradients, d, wanted) result(rate)
      type(problem_data), intent(in) :: p
      real(dp), intent(in) :: gradients(:, :), d(:)
      logical, intent(in) :: wanted(:)
      real(dp) :: rate(p%m + 1)
      integer :: j

      rate(p%m_user + 1:p%m) = p%bound_slope * d(p%bound_variable)
      do j = 1, p%m + 1
         if (.not. wanted(j)) then
            rate(j) = 0.0_dp
         else if (.not. is_bound_row(p, j)) then
            rate(j) = dot(gradients(:, j), d)
         end if
      end do
   end function directional_derivatives

   !> The internal point x moved into the box of the bound rows: X_i = x_i s_i is raised to a
   !> lower bound or lowered to an upper bound it passes.  Fixed variables are never moved.
   pure function clip_to_box(p, x) result(y)
      type(problem_data), intent(in) :: p
      real(dp), intent(in) :: x(:)
      real(dp) :: y(size(x))
      integer :: b, i

      y = x
      do b = 1, p%n_bounds
         i = p%bound_variable(b)
         if (p%fixed(i)) cycle
         if (p%bound_sign(b) * (y(i) * p%variable_scale(i) - p%bound_value(b)) < 0.0_dp) &
            y(i) = p%bound_value(b) / p%variable_scale(i)
      end do
   end function clip_to_box

   !> Room of raw point X inside the box along each variable: up(i) = U_i - X_i, down(i) =
   !> X_i - L_i (huge without that bound, negative outside it).
   pure subroutine box_room(p, point, up, down)
      type(problem_data), intent(in) :: p
      real(dp), intent(in) :: point(:)
      real(dp), intent(out) :: up(:), down(:)
      integer :: b, i

      up = huge(1.0_dp)
      down = huge(1.0_dp)
      do b = 1, p%n_bounds
         i = p%bound_variable(b)
         if (p%bound_sign(b) > 0.0_dp) then
            down(i) = point(i) - p%bound_value(b)
         else
            up(i) = p%bound_value(b) - point(i)
         end if
      end do
   end subroutine box_room

   !> True where a constraint is violated by more than band tolerances (default one).
   elemental logical function violated(kind, c, band)
      integer, intent(in) :: kind
      real(dp), intent(in) :: c
      real(dp), intent(in), optional :: band
      real(dp) :: limit

      limit = 1.0_dp
      if (present(band)) limit = band
      violated = kind /= TYPE_IGNORED .and. (c < -limit .or. (kind == TYPE_EQUALITY .and. c > limit))
   end function violated

   !> Sum of |c_j| over the constraints violated by more than band tolerances (default one).
   pure real(dp) function total_violation(kind, c, band)
      integer, intent(in) :: kind(:)
      real(dp), intent(in) :: c(:)
      real(dp), intent(in), optional :: band
      total_violation = sum(abs(c), mask=violated(kind, c, band))
   end function total_violation

end module optgra_problem
