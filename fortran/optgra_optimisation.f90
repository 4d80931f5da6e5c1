!> Optimisation phase: one step that improves the merit while keeping the active constraints.
!>
!> With the active set A (rebuilt from the constraints on or near their boundary that the merit
!> gradient pushes against), g = P grad c_merit is the projected merit gradient.  The direction is
!> d = theta g + beta d_prev (method 0: steepest ascent; 1, 2, 3: conjugate variants), projected.
!> One value-only probe at x_ref + sigma d gives the second directional derivatives q_j along d.
!> The path
!>     x(s) = x + s d - s^2/2 A^+ q_A
!> keeps the active constraints to second order, and the merit along it is modelled as
!>     dm(t) = a t + b t^2,  t = s |d|,  a = g.d / |d|,  b = (q_merit - g_merit A^+ q_A) / (2 |d|^2).
!> The slope a and the ascent test of a conjugate direction use the projected gradient g, not
!> g_merit: both agree for d in the null space, but g_merit.d = g.d - nu.(A d) takes the rounding
!> residue A d of d, amplified by the multipliers nu, which near a constrained maximum (|g| much
!> smaller than |g_merit|) outweighs g.d and can flip its sign.
!> The step goes to the model's maximum, the trust radius, or the first passive constraint that
!> the path reaches, whichever comes first; in the last case the step continues from there.
!> Once a step has spent MAX_WALK_PROBES probes, the direction after a box bound is modelled
!> without a new probe, from the Rayleigh quotients of the last probe, q_j' = q_j |d'|^2 / |d|^2
!> (each output's Hessian taken as a multiple of the identity): a bound changes the direction,
!> not the functions, and a walk along hundreds of bounds costs no more evaluations than a few.
module optgra_optimisation
   use optgra_kinds
   use optgra_state, only: engine_state
   use optgra_problem, only: is_bound_row, directional_derivative, clip_to_box
   use optgra_active_set
   use optgra_evaluation, only: evaluate_values
   use optgra_steps, only: ball_step, smallest_positive_root
   use optgra_log
   implicit none
   private

   public :: optimisation_phase, classify_constraints, refine_active_set

   integer, parameter :: MAX_REFINEMENTS = 998
   !> Curvature probes per direction: the first at the probe distance, then at the model's step.
   integer, parameter :: MAX_PROBE_REFINEMENTS = 3
   !> A probe resolves a curvature only when its term b t^2 exceeds this multiple of the merit's
   !> value: below, the second difference is rounding (a bogus curvature of either sign).
   real(dp), parameter :: RESOLVABLE_CHANGE = 100.0_dp * epsilon(1.0_dp)
   !> A conjugate direction shorter than this fraction of |theta g| + |beta d_minus| is what is
   !> left of their cancellation: rounding, in no particular direction (not even the null space).
   real(dp), parameter :: CANCELLATION = sqrt(epsilon(1.0_dp))
   integer, parameter :: OUTCOME_MAXIMUM = 1, OUTCOME_LIMIT = 2, OUTCOME_CONSTRAINT = 3
   !> Probes one step may spend before a bound stops asking for a new one.
   integer, parameter :: MAX_WALK_PROBES = 4

contains

   subroutine optimisation_phase(st, finished)
      type(engine_state), intent(inout), target :: st
      logical, intent(out) :: finished
      real(dp) :: g(st%problem%n), d(st%problem%n), d_minus(st%problem%n)
      real(dp) :: second_order(st%problem%n), q(st%problem%m + 1), rayleigh(st%problem%m + 1)
      real(dp) :: slope(st%problem%m + 1), curvature(st%problem%m + 1)
      real(dp), allocatable :: nu(:), w(:)
      real(dp) :: dg, big_d, theta, beta, a, b, t, u, reach, probe_step
      integer :: m, n, merit, j, pass, hit, outcome, probe, refinement, probes_made, i_bound
      logical :: conjugate, done, reuse, bent
      character(len=200) :: line

      m = st%problem%m
      n = st%problem%n
      merit = m + 1
      finished = .false.
      g = 0.0_dp
      d = 0.0_dp
      st%memory%step_length = 0.0_dp
      st%memory%predicted_gain = 0.0_dp
      associate (f => st%factor, gj => st%jacobian, kind => st%problem%kind, &
                 radius => st%memory%radius, full_radius => st%problem%max_distance, &
                 x_ref => st%memory%reference_point, &
                 c_ref => st%memory%reference_values)
         call factor_reset(f, gj, kind, st%memory%previous_direction, st%memory%previous_gradient)
         ! The equalities first, in index order: the same set at every linearisation, so their
         ! factorisation is reused while their gradients stay the same (linear constraints).
         call classify_constraints(st)
         call factor_include_all(f, pack([(j, j = 1, m)], kind(1:m) == TYPE_EQUALITY), gj)
         reuse = .false.
         rayleigh = 0.0_dp
         probes_made = 0

         steps: do pass = 1, 2 * (m + 1) + 10
            call classify_constraints(st)
            call refine_active_set(st, dg, nu, done)
            if (.not. done) exit steps

            g = projected_merit_gradient(st, nu)
            if (dg * full_radius <= 1.0_dp) then
               finished = .true.
               exit steps
            end if

            call choose_direction(theta, beta)
            conjugate = theta /= 1.0_dp .or. beta /= 0.0_dp
            probes: do probe = 1, 2
               d = theta * g + beta * d_minus
               big_d = norm2(d)
               if (big_d == 0.0_dp) then
                  finished = .true.
                  exit steps
               end if
               ! Model along d; when its maximum lies well inside the probe distance, probe again
               ! there so that the curvature is a secant over the step actually taken.
               probe_step = st%problem%probe_distance
               do refinement = 1, MAX_PROBE_REFINEMENTS
                  call quadratic_model(probe_step, reuse)
                  if (st%evaluator%status /= STATUS_OK) exit steps
                  if (b < 0.0_dp .and. -a / (2.0_dp * b) < full_radius) then
                     t = -a / (2.0_dp * b)
                     outcome = OUTCOME_MAXIMUM
                  else
                     t = full_radius
                     outcome = OUTCOME_LIMIT
                  end if
                  if (reuse .or. outcome /= OUTCOME_MAXIMUM .or. t >= 0.25_dp * probe_step) exit
                  ! No probe at a step too short to resolve even the current curvature.
                  if (abs(b) * t**2 <= RESOLVABLE_CHANGE * abs(c_ref(merit))) exit
                  probe_step = t
               end do
               ! Converged when the model gains at most one tolerance within the full radius,
               ! counting the geometric tail gain r / (1 - r) that steps converging at the recent
               ! rate r would still add (a slow, linearly converging run is not yet done).
               if (abs(a * t + b * t**2) > 1.0_dp - st%memory%gain_ratio) exit probes
               if (.not. conjugate) then
                  finished = .true.
                  exit steps
               end if
               theta = 1.0_dp
               beta = 0.0_dp
               conjugate = .false.
               reuse = .false.
            end do probes
            ! The step itself stays inside the current (adaptive) radius around x_ref.
            reach = ball_step(st%x - x_ref, d, radius) * big_d
            if (t > reach) then
               t = reach
               outcome = OUTCOME_LIMIT
            end if

            ! First passive constraint reached along the curved path c_j + gamma_j u + kappa_j u^2 / 2:
            ! gamma_j = g_j . d, kappa_j = q_j - g_j A^+ q_A = q_j - g_j . second_order.
            ! One pass over the moving outputs (passive and candidates): their rates, and the
            ! roots of the passive ones; a bound row's gradient is its slope at its variable.
            slope = 0.0_dp
            curvature = q
            hit = 0
            do j = 1, merit
               if (j <= m) then
                  if (f%status(j) > 0 .or. f%status(j) == STATUS_IGNORED) cycle
               end if
               if (j > st%problem%m_user .and. j <= m) then
                  i_bound = j - st%problem%m_user
                  slope(j) = st%problem%bound_slope(i_bound) * d(st%problem%bound_variable(i_bound))
                  if (bent) curvature(j) = q(j) - st%problem%bound_slope(i_bound) &
                                           * second_order(st%problem%bound_variable(i_bound))
               else
                  slope(j) = dot_product(gj(:, j), d)
                  if (bent) curvature(j) = q(j) - dot_product(gj(:, j), second_order)
               end if
               if (j > m) cycle
               if (f%status(j) /= STATUS_PASSIVE) cycle
               if (0.5_dp * curvature(j) == 0.0_dp) then
                  ! the linear case of smallest_positive_root, without the call
                  if (slope(j) == 0.0_dp) cycle
                  u = -st%c(j) / slope(j)
                  if (.not. u > 0.0_dp) cycle
               else
                  u = smallest_positive_root(0.5_dp * curvature(j), slope(j), st%c(j))
               end if
               if (u * big_d < t) then
                  t = u * big_d
                  hit = j
                  outcome = OUTCOME_CONSTRAINT
               end if
            end do
            u = t / big_d
            if (log_enabled(st%log, 3)) then
               write (line, '(a,i0,a,i0,a,es11.3,a,es11.3,a,es11.3,a,es11.3,a,2es11.3)') &
                  'step outcome ', outcome, ' active ', f%count, ' |g| ', dg, ' slope ', a, &
                  ' curvature ', b, ' length ', t, ' theta beta ', theta, beta
               call log_message(st%log, 3, line)
            end if
            st%x = st%x + u * d - 0.5_dp * u**2 * second_order
            st%memory%moved = st%memory%moved + t
            st%memory%step_length = st%memory%step_length + t
            st%memory%predicted_gain = st%memory%predicted_gain + a * t + b * t**2
            if (outcome /= OUTCOME_CONSTRAINT) exit steps
            do j = 1, merit
               if (j <= m) then
                  if (f%status(j) > 0 .or. f%status(j) == STATUS_IGNORED) cycle
               end if
               st%c(j) = st%c(j) + u * slope(j) + 0.5_dp * u**2 * curvature(j)
            end do
            st%c(hit) = 0.0_dp
            reuse = is_bound_row(st%problem, hit) .and. probes_made >= MAX_WALK_PROBES
         end do steps
         ! The step stops on the bounds it reaches; rounding may leave x a few ulps outside.
         st%x = clip_to_box(st%problem, st%x)

         st%memory%previous_direction = d
         st%memory%previous_gradient = g
         st%memory%previous_status = f%status(1:m)
      end associate

   contains

      !> Second directional derivatives q_j along d from one value-only probe at distance
      !> probe_step from x_ref (q = 0 for a zero probe step), or from the Rayleigh quotients of
      !> the last probe when reusing, the second-order path correction A^+ q_A and the merit
      !> model dm(t) = a t + b t^2.  The probe point is kept inside the box (the functions may
      !> be undefined outside it); its displacement e from x_ref gives the Rayleigh quotients
      !>     rho_j = 2 (c_j(x_ref + e) - c_j(x_ref) - g_j . e) / |e|^2,   q_j = rho_j |d|^2,
      !> which are the second derivatives along d itself when the box does not cut the probe.
      subroutine quadratic_model(probe_step, reusing)
         real(dp), intent(in) :: probe_step
         logical, intent(in) :: reusing
         real(dp) :: probe_values(st%problem%m + 1), probe_point(st%problem%n), e(st%problem%n), e2
         integer :: jj

         q = 0.0_dp
         if (reusing) then
            q = rayleigh * big_d**2
         else if (probe_step > 0.0_dp) then
            probe_point = clip_to_box(st%problem, st%memory%reference_point + (probe_step / big_d) * d)
            e = probe_point - st%memory%reference_point
            e2 = dot_product(e, e)
            if (e2 > 0.0_dp) then
               call evaluate_values(st%problem, st%evaluator, probe_point, probe_values)
               if (st%evaluator%status /= STATUS_OK) return
               probes_made = probes_made + 1
               do jj = 1, m + 1
                  ! the bound rows are linear
                  if (is_bound_row(st%problem, jj) .or. st%problem%kind(jj) == TYPE_IGNORED) cycle
                  rayleigh(jj) = 2.0_dp * (probe_values(jj) - st%memory%reference_values(jj) &
                                   - dot_product(st%jacobian(:, jj), e)) / e2
               end do
               q = rayleigh * big_d**2
            end if
         end if
         associate (f => st%factor)
            w = forward_solve(f, q(f%list(1:f%count)))
            ! The path is straight when no active output is curved along d (linear ones).
            bent = any(w /= 0.0_dp)
            second_order = active_combination(f, st%jacobian, backward_solve(f, w))
            ! g.d = g_merit.d for d in the null space, without the rounding residue A d.
            a = dot_product(g, d) / big_d
            b = 0.5_dp * (q(merit) - dot_product(f%r(1:f%count, merit), w)) / big_d**2
         end associate
      end subroutine quadratic_model

      !> theta and beta of d = theta g + beta d_minus for the configured method, with the
      !> previous direction and gradient projected onto the current null space.  Falls back to
      !> steepest ascent when the conjugate direction would violate a boundary constraint or is
      !> not an ascent direction (g.d < 0, see the module header), or is only the rounding left
      !> when theta g and beta d_minus cancel.
      subroutine choose_direction(th, be)
         real(dp), intent(out) :: th, be
         real(dp) :: g_minus(st%problem%n), y(st%problem%n), s(st%problem%n), gm2, sy, dy, dn, gd

         associate (f => st%factor)
            g_minus = st%memory%previous_gradient - active_combination(f, st%jacobian, multipliers(f, m + 3))
            d_minus = st%memory%previous_direction - active_combination(f, st%jacobian, multipliers(f, m + 2))
         end associate
         y = g - g_minus
         s = st%memory%reference_point - st%memory%previous_reference
         gm2 = dot_product(g_minus, g_minus)
         th = 1.0_dp
         be = 0.0_dp
         select case (st%problem%method)
         case (1)
            if (gm2 > 1.0e-12_dp) then
               th = -dot_product(d_minus, y) / gm2
               be = dot_product(g, g) / gm2
            end if
         case (2)
            sy = dot_product(s, y)
            dy = dot_product(d_minus, y)
            if (abs(sy) > 1.0e-12_dp .and. abs(dy) > 1.0e-12_dp) then
               th = -dot_product(s, s) / sy
               be = dot_product(-th * y - s, g) / dy
            end if
         case (3)
            if (gm2 > 0.0_dp) be = dot_product(g, g) / gm2
         end select
         if (th == 1.0_dp .and. be == 0.0_dp) return
         d = th * g + be * d_minus
         dn = norm2(d)
         if (dn <= CANCELLATION * (abs(th) * norm2(g) + abs(be) * norm2(d_minus)) &
             .or. dot_product(g, d) < 0.0_dp) then
            th = 1.0_dp
            be = 0.0_dp
            return
         end if
         do j = 1, m
            if (st%factor%status(j) /= STATUS_CANDIDATE) cycle
            gd = directional_derivative(st%problem, st%jacobian, j, d)
            if (abs(gd) / dn * st%problem%max_distance < SIGNIFICANT_CHANGE) cycle
            if (st%problem%kind(j) == TYPE_EQUALITY .or. gd < 0.0_dp) then
               th = 1.0_dp
               be = 0.0_dp
               return
            end if
         end do
      end subroutine choose_direction

   end subroutine optimisation_phase

   !> p = grad c_merit + sum nu_i grad c_{a_i} (nu = -multipliers of the merit): the merit
   !> gradient projected onto the null space of the active gradients, in physical space.
   function projected_merit_gradient(st, nu) result(p)
      type(engine_state), intent(in) :: st
      real(dp), intent(in) :: nu(:)
      real(dp) :: p(st%problem%n)
      p = st%jacobian(:, st%problem%m + 1) + active_combination(st%factor, st%jacobian, nu)
   end function projected_merit_gradient

   !> Release the active inequalities that are now clearly inside (more than one tolerance); the
   !> other constraints are candidates when on or beyond their boundary band, else passive.
   subroutine classify_constraints(st)
      type(engine_state), intent(inout), target :: st
      integer :: i, j

      associate (f => st%factor, kind => st%problem%kind, c => st%c)
         do i = f%count, 1, -1
            j = f%list(i)
            if (kind(j) /= TYPE_EQUALITY .and. c(j) > 1.0_dp) then
               call factor_exclude(f, i)
               f%status(j) = STATUS_PASSIVE
            end if
         end do
         do j = 1, st%problem%m
            if (f%status(j) > 0 .or. kind(j) == TYPE_IGNORED) cycle
            if (kind(j) == TYPE_EQUALITY .or. c(j) <= 1.0_dp) then
               f%status(j) = STATUS_CANDIDATE
            else
               f%status(j) = STATUS_PASSIVE
            end if
         end do
      end associate
   end subroutine classify_constraints

   !> Greedy active set for the merit: release active inequalities whose multiplier has the
   !> wrong sign (they would be left by the projected gradient), include the candidate that the
   !> projected merit gradient violates fastest, until neither applies.  On return dg is the
   !> norm of the projected merit gradient g = grad c_merit + sum nu_i grad c_{a_i}.
   subroutine refine_active_set(st, dg, nu, done)
      type(engine_state), intent(inout), target :: st
      real(dp), intent(out) :: dg
      real(dp), allocatable, intent(out) :: nu(:)
      logical, intent(out) :: done
      integer :: refinement, pick, i, j, merit, bound_candidates, general_active
      real(dp) :: effective, rate, best, projected(st%problem%n)
      logical :: accepted, physical

      done = .false.
      dg = 0.0_dp
      merit = st%problem%m + 1
      associate (f => st%factor)
         do refinement = 1, MAX_REFINEMENTS
            dg = null_norm(f, merit)
            nu = -multipliers(f, merit)
            pick = 0
            best = -MULTIPLIER_ZERO
            do i = 1, f%count
               if (st%problem%kind(f%list(i)) == TYPE_EQUALITY) cycle
               if (nu(i) * f%norm(f%list(i)) < best) then
                  best = nu(i) * f%norm(f%list(i))
                  pick = i
               end if
            end do
            if (pick > 0) then
               call factor_exclude(f, pick)
               cycle
            end if
            if (dg == 0.0_dp) then
               done = .true.
               return
            end if
            ! Rate of candidate j: p_j . p / |p|, p the projected merit gradient.  For a bound row
            ! it is g_j . p with p = grad c_merit + sum nu_i g_{a_i} in physical space, O(1) once
            ! p is built, which pays when many bounds are candidates.
            bound_candidates = count(f%status(st%problem%m_user + 1:st%problem%m) == STATUS_CANDIDATE)
            general_active = count(f%list(1:f%count) <= st%problem%m_user)
            if (bound_candidates > 0 .and. general_active == 0) then
               if (.not. any(f%status(1:st%problem%m_user) == STATUS_CANDIDATE)) then
                  if (include_bound_closure(st, nu, dg) > 0) then
                     ! Nothing to release (a bound row included with a negative rate has a
                     ! positive multiplier) and nothing more to include: the greedy's end.
                     dg = null_norm(f, merit)
                     nu = -multipliers(f, merit)
                     done = .true.
                     return
                  end if
               end if
            end if
            physical = bound_candidates > 0 .and. (general_active == 0 .or. &
                       bound_candidates * (st%problem%n - f%count) > st%problem%n * (general_active + 1))
            if (physical) projected = projected_merit_gradient(st, nu)
            pick = 0
            best = 0.0_dp
            do j = 1, st%problem%m
               if (f%status(j) /= STATUS_CANDIDATE) cycle
               if (physical .and. is_bound_row(st%problem, j)) then
                  rate = directional_derivative(st%problem, st%jacobian, j, projected) / dg
               else
                  rate = null_dot(f, j, merit) / dg
               end if
               if (abs(rate) * st%problem%max_distance < SIGNIFICANT_CHANGE) cycle
               effective = rate / f%norm(j)
               if (st%problem%kind(j) == TYPE_EQUALITY) effective = -abs(effective)
               if (effective < best) then
                  best = effective
                  pick = j
               end if
            end do
            if (pick == 0) then
               done = .true.
               return
            end if
            call factor_include(f, pick, accepted)
            if (.not. accepted) f%status(pick) = STATUS_PASSIVE
         end do
      end associate
   end subroutine refine_active_set

   !> The greedy inclusion when only bound rows are active or candidates.  The rate of bound
   !> row j (variable i) is g_j . p / |p| = slope_j p_i / |p|, and including another bound row
   !> only zeroes that row's own component of p: the numerators stay, |p| drops, so a candidate
   !> that is (or becomes) significant with a negative rate stays so.  The greedy therefore
   !> includes exactly the closure of these candidates, whatever the order: each round includes,
   !> in index order, all that qualify at the current dg = |p|, until a round includes none.
   !> Returns how many were included.
   integer function include_bound_closure(st, nu, dg_start) result(included)
      type(engine_state), intent(inout), target :: st
      real(dp), intent(in) :: nu(:), dg_start
      real(dp) :: projected(st%problem%n), rate, dg
      logical :: taken(st%problem%n), accepted
      integer :: j, i, round, this_round

      included = 0
      ! p_i at a variable without an active row is the merit's own derivative, however many
      ! other rows are included: one p serves every round.
      projected = projected_merit_gradient(st, nu)
      taken = .false.
      dg = dg_start
      associate (f => st%factor, p => st%problem)
         do round = 1, p%n_bounds + 1
            this_round = 0
            do j = p%m_user + 1, p%m
               if (f%status(j) /= STATUS_CANDIDATE) cycle
               i = p%bound_variable(j - p%m_user)
               if (taken(i)) cycle  ! the other bound of a variable just fixed: left to the greedy
               rate = directional_derivative(p, st%jacobian, j, projected) / dg
               if (abs(rate) * p%max_distance < SIGNIFICANT_CHANGE) cycle
               if (rate / f%norm(j) >= 0.0_dp) cycle
               call factor_include(f, j, accepted)
               if (accepted) then
                  taken(i) = .true.
                  this_round = this_round + 1
               else
                  f%status(j) = STATUS_PASSIVE
               end if
            end do
            included = included + this_round
            if (this_round == 0) exit
            dg = null_norm(f, p%m + 1)
            if (dg == 0.0_dp) exit
         end do
      end associate
   end function include_bound_closure

end module optgra_optimisation
