!> Sensitivity analysis and linear updates at a saved linearisation.
!>
!> prepare_linearisation evaluates the outputs C and their gradients at a point X (parameters
!> included) and finds its active set: every equality, and the inequalities on or beyond their
!> boundary (within one tolerance) against which the merit gradient pushes, by the greedy
!> multiplier test of the optimisation phase.  Nothing moves.
!>
!> With the active gradients A (k x n_free, internal units) and A+ = A^T (A A^T)^-1, the
!> minimum-norm move of the free variables that shifts active constraint a_i by one unit and
!> keeps the others on their boundary is dx = A+ e_i; a parameter p moved by one unit is
!> compensated by dx = -A+ G_full[A, p].  For any other output j with least-squares
!> coefficients y_j = (A A^T)^-1 A g_j on the active gradients:
!>   CC[j, a_i] = -(y_j)_i                  (CC[a, a] = 1 for active rows)
!>   CP[j, p]   = G_full[j, p] - y_j . G_full[A, p]
!>   VC[v, a_i] = -(A+)[v, i]
!>   VP[v, p]   = -(A+ G_full[A, p])_v,      VP[v, v] = 1.
!> In raw units (sigma: signed output scales, s: variable scales) CC[j,k] sigma_j / sigma_k,
!> CP[j,p] sigma_j / s_p, VC[v,k] s_v / sigma_k and VP[v,p] s_v / s_p.  So VC[:, k] = dX/dDelta_k
!> and CC[j, k] = dC_j/dDelta_k when constraint k reads C_k + Delta_k = 0 on its boundary; the
!> merit row of CC holds the Lagrange multipliers.
!>
!> linear_update works on the linear model C(X) + dC/dX (X' - X) of the saved linearisation, with
!> the constraints either shifted (C - Delta) or replaced by new values at X.  It moves the free
!> variables by the minimum-norm step that puts the active constraints back on their boundary,
!> then, if other constraints are violated in the model, by one linearised correction pass with the
!> active constraints held.  It returns the new point and the model's prediction of every output
!> there, the merit included.
module optgra_sensitivity
   use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
   use optgra_kinds
   use optgra_vector, only: dot, norm
   use optgra_state, only: engine_state, state_start_run, MODE_NEW_OUTPUTS, MODE_SHIFTED_OUTPUTS
   use optgra_evaluation, only: evaluate_values, evaluate_derivatives
   use optgra_active_set
   use optgra_optimisation, only: classify_constraints, refine_active_set
   use optgra_correction, only: correction_phase
   use optgra_problem, only: violated, start_point, raw_point
   use optgra_log
   implicit none
   private

   public :: prepare_linearisation, sensitivity_matrices, linear_update, valid_linearisation
   public :: record_multipliers

contains

   !> Linearise at x_raw (which does not move) and save the linearisation with its active set.
   !> y_raw: the raw outputs at x_raw; feasible: 1 when every constraint is within tolerance there.
   subroutine prepare_linearisation(st, x_raw, y_raw, feasible, info)
      type(engine_state), intent(inout), target :: st
      real(dp), intent(in) :: x_raw(:)
      real(dp), intent(out) :: y_raw(:)
      integer, intent(out) :: feasible, info
      real(dp), allocatable :: nu(:)
      real(dp) :: dg, zero(st%problem%n)
      logical :: done
      integer :: j

      feasible = 0
      y_raw = 0.0_dp
      call state_start_run(st, .true., info)
      if (info /= STATUS_OK) return
      associate (p => st%problem, f => st%factor, m => st%problem%m)
         call start_point(p, x_raw, st%x)
         call evaluate_derivatives(p, st%evaluator, st%log, st%x, st%c, st%jacobian, st%full_jacobian)
         info = st%evaluator%status
         if (info /= STATUS_OK) return
         y_raw = st%evaluator%cached_outputs

         zero = 0.0_dp
         call factor_reset(f, st%jacobian, p%kind, zero, zero)
         call classify_constraints(st)
         call factor_include_all(f, pack([(j, j = 1, m)], p%kind(1:m) == TYPE_EQUALITY), st%jacobian)
         call refine_active_set(st, dg, nu, done)

         st%saved%point = x_raw
         st%saved%values = y_raw
         if (.not. allocated(st%saved%gradients)) allocate (st%saved%gradients(p%n, m + 1))
         do j = 1, m + 1
            st%saved%gradients(:, j) = st%full_jacobian(:, j) * p%output_scale(j) / p%variable_scale
         end do
         st%saved%status = f%status(1:m)
         st%saved%present = .true.
         feasible = merge(0, 1, any(violated(p%kind(1:m), st%c(1:m))))
      end associate
   end subroutine prepare_linearisation

   !> Raw sensitivity matrices of the saved linearisation, in the orientation C sees row-major:
   !> active(m) 0/1, cc(m, m+1) = CC (m+1 x m), cp(n, m+1) = CP (m+1 x n),
   !> vc(m, n) = VC (n x m), vp(n, n) = VP (n x n); e.g. cc(k, j) is CC[j, k].
   subroutine sensitivity_matrices(st, active, cc, cp, vc, vp, info)
      type(engine_state), intent(inout), target :: st
      integer, intent(out) :: active(:), info
      real(dp), intent(out) :: cc(:, :), cp(:, :), vc(:, :), vp(:, :)
      real(dp), allocatable :: y(:), unit(:), coefficient(:)
      real(dp) :: column(st%problem%n)
      integer :: i, j, q, a, k

      active = 0
      cc = 0.0_dp
      cp = 0.0_dp
      vc = 0.0_dp
      vp = 0.0_dp
      call load_linearisation(st, info)
      if (info /= STATUS_OK) return
      associate (p => st%problem, f => st%factor, m => st%problem%m, n => st%problem%n, &
                 gf => st%full_jacobian, sigma => st%problem%output_scale, s => st%problem%variable_scale)
         k = f%count
         active(f%list(1:k)) = 1
         do i = 1, n
            vp(i, i) = 1.0_dp
         end do
         ! Variables against active constraints: VC[:, a_i] = -A+ e_i, with
         ! A+ e_i = A^T (L L^T)^-1 e_i = A^T L^-T L^-1 e_i.
         allocate (unit(k))
         do i = 1, k
            unit = 0.0_dp
            unit(i) = 1.0_dp
            coefficient = backward_solve(f, forward_solve(f, unit))
            column = -active_combination(f, st%jacobian, coefficient)
            a = f%list(i)
            vc(a, :) = column * s / sigma(a)
            ! Variables against parameters: VP[:, q] = sum_i VC[:, a_i] G_full[a_i, q].
            do q = 1, n
               if (.not. p%fixed(q)) cycle
               vp(q, :) = vp(q, :) + column * gf(q, a) * s / s(q)
            end do
         end do
         ! Outputs against active constraints and parameters.
         do j = 1, m + 1
            if (j <= m) then
               if (f%status(j) > 0) then
                  cc(j, j) = 1.0_dp
                  cycle
               end if
            end if
            y = multipliers(f, j)
            cc(:, j) = active_sensitivity(st, j, y)
            do q = 1, n
               if (.not. p%fixed(q)) cycle
               cp(q, j) = (gf(q, j) - dot(y, gf(q, f%list(1:k)))) * sigma(j) / s(q)
            end do
         end do
      end associate
   end subroutine sensitivity_matrices

   !> Linear update of the saved linearisation (mode MODE_SHIFTED_OUTPUTS: constraints C - shift;
   !> MODE_NEW_OUTPUTS: new values at the saved point, one call of the fitness).  x_raw, y_raw: the
   !> new point and the model's outputs there; success: 1, or 0 when the model cannot be made
   !> feasible within max_distance (then x_raw is the saved point, y_raw the outputs there).
   subroutine linear_update(st, x_raw, y_raw, success, info)
      type(engine_state), intent(inout), target :: st
      real(dp), intent(out) :: x_raw(:), y_raw(:)
      integer, intent(out) :: success, info
      real(dp), allocatable :: target_values(:)
      real(dp) :: c_start(st%problem%m + 1), dx(st%problem%n), violation, distance
      logical :: finished
      integer :: j, k

      success = 0
      x_raw = 0.0_dp
      y_raw = 0.0_dp
      call load_linearisation(st, info)
      if (info /= STATUS_OK) return
      associate (p => st%problem, f => st%factor, m => st%problem%m, mem => st%memory)
         x_raw = st%saved%point
         select case (st%sensitivity_mode)
         case (MODE_SHIFTED_OUTPUTS)
            st%c(1:m) = st%c(1:m) - st%saved%shift / p%output_scale(1:m)
         case (MODE_NEW_OUTPUTS)
            call evaluate_values(p, st%evaluator, st%x, st%c)
            info = st%evaluator%status
            if (info /= STATUS_OK) return
         end select
         c_start = st%c
         y_raw = c_start * p%output_scale

         ! Minimum-norm step putting the active constraints back on their boundary:
         ! A dx = -c_A, dx = A^T (L L^T)^-1 (-c_A).
         k = f%count
         target_values = -st%c(f%list(1:k))
         dx = active_combination(f, st%jacobian, backward_solve(f, forward_solve(f, target_values)))
         if (norm(dx) > p%max_distance) return
         st%x = st%x + dx
         do j = 1, m + 1
            st%c(j) = st%c(j) + dot(st%jacobian(:, j), dx)
         end do
         st%c(f%list(1:k)) = 0.0_dp

         ! Then one linearised correction pass, the active constraints held on their boundary.
         mem%reference_point = st%x - dx
         mem%previous_status = st%saved%status
         mem%moved = 0.0_dp
         call correction_phase(st, finished, violation, distance)
         info = st%evaluator%status
         if (info /= STATUS_OK) return
         ! The walk leaves the outputs it held untouched: predict every output from the model,
         ! and judge feasibility there with the constraints' own types.
         dx = st%x - mem%reference_point
         do j = 1, m + 1
            st%c(j) = c_start(j) + dot(st%jacobian(:, j), dx)
         end do
         if (any(violated(p%kind(1:m), st%c(1:m)))) return
         success = 1
         x_raw = raw_point(p, st%x)
         y_raw = st%c * p%output_scale
      end associate
   end subroutine linear_update

   !> Raw dC_j/dDelta_k of output j against every constraint k (zero unless k is active), from
   !> the least-squares coefficients y of its gradient on the active gradients.
   pure function active_sensitivity(st, j, y) result(row)
      type(engine_state), intent(in) :: st
      integer, intent(in) :: j
      real(dp), intent(in) :: y(:)
      real(dp) :: row(st%problem%m)
      integer :: i, a

      row = 0.0_dp
      do i = 1, st%factor%count
         a = st%factor%list(i)
         row(a) = -y(i) * st%problem%output_scale(j) / st%problem%output_scale(a)
      end do
   end function active_sensitivity

   !> Keep the active set of the current factorisation and the Lagrange multipliers of the merit
   !> against it (the merit row of CC): grad F + sum_k lambda_k grad C_k = 0 over the free
   !> variables.
   subroutine record_multipliers(st)
      type(engine_state), intent(inout) :: st
      integer :: merit

      merit = st%problem%m + 1
      st%multipliers = active_sensitivity(st, merit, multipliers(st%factor, merit))
      st%active = st%factor%status(1:st%problem%m) > 0
      st%have_multipliers = .true.
   end subroutine record_multipliers

   !> A linearisation given from outside is usable: finite numbers, statuses that are either
   !> positions 1..k of an active list (each once, k <= n) or STATUS_CANDIDATE/PASSIVE/IGNORED.
   pure logical function valid_linearisation(point, values, gradients, status, n)
      real(dp), intent(in) :: point(:), values(:), gradients(:, :)
      integer, intent(in) :: status(:), n
      integer :: k, i

      valid_linearisation = .false.
      if (.not. (all(ieee_is_finite(point)) .and. all(ieee_is_finite(values)) .and. &
                 all(ieee_is_finite(gradients)))) return
      if (any(status < STATUS_IGNORED)) return
      k = count(status > 0)
      if (k > n) return
      do i = 1, k
         if (count(status == i) /= 1) return
      end do
      valid_linearisation = .true.
   end function valid_linearisation

   !> Internal point, outputs, Jacobians and active-set factorisation of the saved linearisation
   !> under this session's scaling.  An active constraint that has become dependent on the ones
   !> before it, or is ignored in this session, is left out.
   subroutine load_linearisation(st, info)
      type(engine_state), intent(inout), target :: st
      integer, intent(out) :: info
      real(dp) :: zero(st%problem%n)
      logical :: accepted
      integer :: i, j, position

      info = STATUS_NOT_READY
      if (.not. st%saved%present) return
      call state_start_run(st, .true., info)
      if (info /= STATUS_OK) return
      associate (p => st%problem, f => st%factor, m => st%problem%m, saved => st%saved)
         call start_point(p, saved%point, st%x)
         st%c = saved%values / p%output_scale
         do j = 1, m + 1
            if (j <= m .and. p%kind(j) == TYPE_IGNORED) then
               st%full_jacobian(:, j) = 0.0_dp
            else
               st%full_jacobian(:, j) = saved%gradients(:, j) * p%variable_scale / p%output_scale(j)
            end if
         end do
         st%jacobian = st%full_jacobian
         do i = 1, p%n
            if (p%fixed(i)) st%jacobian(i, :) = 0.0_dp
         end do
         zero = 0.0_dp
         call factor_reset(f, st%jacobian, p%kind, zero, zero)
         do position = 1, count(saved%status > 0)
            j = findloc(saved%status, position, dim=1)
            if (p%kind(j) == TYPE_IGNORED) cycle
            call factor_include(f, j, accepted)
         end do
         do j = 1, m
            if (f%status(j) <= 0 .and. f%status(j) /= STATUS_IGNORED) f%status(j) = &
               merge(STATUS_PASSIVE, STATUS_CANDIDATE, saved%status(j) == STATUS_PASSIVE)
         end do
      end associate
   end subroutine load_linearisation

end module optgra_sensitivity
