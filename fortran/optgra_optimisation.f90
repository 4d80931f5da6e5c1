!> Optimisation phase: one step that improves the merit while keeping the active constraints.
!>
!> With the active set A (rebuilt from the constraints on or near their boundary that the merit
!> gradient pushes against), g = P grad c_merit is the projected merit gradient.  The direction is
!> d = theta g + beta d_prev (method 0: steepest ascent; 1, 3: conjugate variants), projected;
!> method 2 takes the limited-memory quasi-Newton direction d = P H g, H the L-BFGS inverse
!> Hessian of -merit from the last CURVATURE_PAIRS moves between linearisation points (s) and
!> the changes of the projected gradient over them (y, kept when s.y > 0), P the projection onto
!> the null space.  The reference's method 2 (spectral CG) scales g by the Barzilai-Borwein factor
!> s.s / s.y of the last pair alone and adds a multiple of d_prev; the pairs of several moves
!> follow curved valleys much better (Wood's function: 143 gradients by spectral CG, 109 by five
!> pairs, 81 by ten).  Since g = P g and H is positive definite, g.d = (P g).H (P g) > 0: d
!> ascends.  The first probe lies at the quasi-Newton step |d| (within the probe distance).
!> Before its first pair, and on the bound walk, method 2 takes the spectral CG direction.
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
   use optgra_vector, only: dot, norm
   use optgra_state, only: engine_state, iteration_memory
   use optgra_problem, only: is_bound_row, directional_derivative, clip_to_box
   use optgra_active_set
   use optgra_evaluation, only: evaluate_values, recent_near
   use optgra_steps, only: ball_step, ball_step_from_products, first_root
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
   !> A guessed probe shorter than this multiple of 1 + |x_ref| is not made (the probe distance is):
   !> its displacement is known to a few digits only.
   real(dp), parameter :: PROBE_RESOLUTION = sqrt(epsilon(1.0_dp))
   !> A conjugate direction shorter than this fraction of |theta g| + |beta d_minus| is what is
   !> left of their cancellation: rounding, in no particular direction (not even the null space).
   real(dp), parameter :: CANCELLATION = sqrt(epsilon(1.0_dp))
   integer, parameter :: OUTCOME_MAXIMUM = 1, OUTCOME_LIMIT = 2, OUTCOME_CONSTRAINT = 3
   !> Probes one step may spend before a bound stops asking for a new one.
   integer, parameter :: MAX_WALK_PROBES = 4
   !> A point within this fraction of a recent point's distance from x_ref is taken as that
   !> point: the differences seen are rounding (1e-14, of a refitted step length, of a
   !> direction that the box cuts to the same probe, or of a quasi-Newton step back to where
   !> the secant came from), and 1e-10 of a step is far below what the model resolves.
   real(dp), parameter :: SAME_POINT = 1.0e-10_dp
   !> A curvature pair is kept when s.y exceeds this fraction of |s| |y|.
   real(dp), parameter :: PAIR_CURVATURE = 1.0e-10_dp

   !> The bound walk: while Q is a signed permutation, only bound rows are active and every
   !> general constraint is ignored, a pass of the walk lives on the free variables F (those
   !> without an active row), without the factorisation:
   !>   - g = P grad c_merit is grad c_merit on F and 0 elsewhere; the projections of the
   !>     previous gradient and direction are those vectors on F; the conjugate direction's
   !>     scalar products are sums over F, which change only when F does;
   !>   - the path is straight (bound rows are linear: q_A = 0, A^+ q_A = 0), d is 0 off F, and
   !>     what moves is x on F, the bound rows of F and the merit;
   !>   - |x - x_ref|^2 is the sum over F plus that over the fixed variables, which no longer move.
   !> The iterates are those of the general passes up to rounding.  (With passive general
   !> constraints the walk would work as well, but its rounding differences can flip a later
   !> threshold decision of such a run; problems with general constraints keep the general passes.)
   type :: bound_walk
      logical :: on = .false.
      integer :: free_count = 0
      integer, allocatable :: free(:)          ! (n) the free variables, free(1:free_count)
      integer, allocatable :: slot(:)          ! (n) index of variable i in free, 0 when fixed
      integer, allocatable :: rows(:, :)       ! (2, n) lower and upper bound row of i, 0: none
      integer :: near_count = 0
      integer, allocatable :: near(:)          ! (n_bounds) the bound rows of F within their band
      ! sums over F: g.g, g_minus.g_minus, s.y, d_minus.y, y.g, s.g, d_minus.d_minus
      ! (y = g - g_minus, s = x_ref - previous x_ref), valid while F is unchanged
      logical :: products_valid = .false.
      real(dp) :: gg = 0.0_dp, gm_gm = 0.0_dp, s_y = 0.0_dp, dm_y = 0.0_dp, y_g = 0.0_dp
      real(dp) :: s_g = 0.0_dp, dm_dm = 0.0_dp
      real(dp) :: ss = 0.0_dp                  ! s.s over all variables
      real(dp) :: shift2_fixed = 0.0_dp        ! sum over the fixed i of (x_i - x_ref_i)^2
      ! of the last direction formed: d.d, (x - x_ref).d and (x - x_ref)^2 on F, and the
      ! first passive bound row of F that x + u d reaches, at u = root
      real(dp) :: dd = 0.0_dp, shift_d = 0.0_dp, shift2_free = 0.0_dp, root = 0.0_dp
      integer :: root_row = 0
   end type bound_walk

contains

   subroutine optimisation_phase(st, finished)
      type(engine_state), intent(inout), target :: st
      logical, intent(out) :: finished
      real(dp) :: g(st%problem%n), d(st%problem%n), d_minus(st%problem%n)
      real(dp) :: second_order(st%problem%n), q(st%problem%m + 1), rayleigh(st%problem%m + 1)
      real(dp) :: slope(st%problem%m + 1), curvature(st%problem%m + 1)
      real(dp), allocatable :: nu(:), w(:)
      real(dp) :: dg, big_d, g_dot_d, theta, beta, a, b, t, u, reach, probe_step
      integer :: m, n, merit, j, pass, hit, outcome, probe, refinement, probes_made, i_bound
      logical :: conjugate, done, reuse, bent, formed, guessed
      logical :: quasi_newton   ! d is the quasi-Newton direction (method 2)
      logical :: reached(st%problem%m)   ! user constraints this step reached, not yet active
      type(bound_walk) :: walk
      character(len=200) :: line

      m = st%problem%m
      n = st%problem%n
      merit = m + 1
      finished = .false.
      g = 0.0_dp
      d = 0.0_dp
      ! choose_direction projects the previous direction only for a conjugate direction;
      ! form_direction reads it (times beta = 0) for steepest ascent too
      d_minus = 0.0_dp
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
         reached = .false.

         steps: do pass = 1, 2 * (m + 1) + 10
            if (walk%on) then
               call walk_refine(dg)
            else
               call classify_constraints(st)
               call refine_active_set(st, dg, nu, done)
               if (.not. done) exit steps
               ! A constraint this step reached whose gradient at x_ref does not see the step
               ! at all (a negligible rate: the candidate test of refine_active_set leaves it
               ! out) is reached by curvature alone, and the step would run on through it: the
               ! step ends where it reached it.
               where (f%status(1:m) > 0) reached = .false.
               if (dg > 0.0_dp) then
                  do j = 1, m
                     if (.not. reached(j)) cycle
                     if (negligible_rate(null_dot(f, j, merit) / dg, full_radius)) then
                        call log_message(st%log, 3, 'step ends at a constraint its gradient does not see')
                        exit steps
                     end if
                     reached(j) = .false.   ! seen by its gradient: an ordinary candidate from here
                  end do
               end if
               g = projected_merit_gradient(st, nu)
            end if
            if (dg * full_radius <= 1.0_dp) then
               finished = .true.
               exit steps
            end if

            call choose_direction(theta, beta, formed)
            conjugate = theta /= 1.0_dp .or. beta /= 0.0_dp
            probes: do probe = 1, 2
               if (.not. formed) call form_direction(theta, beta)
               if (big_d == 0.0_dp) then
                  finished = .true.
                  exit steps
               end if
               ! Model along d; when its maximum lies well inside the probe distance, or beyond
               ! a guessed (shorter) first probe, probe again there, never beyond the probe
               ! distance, so that the curvature is a secant over the step actually taken.
               probe_step = first_probe_step()
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
                  if (reuse) exit
                  guessed = probe_step < st%problem%probe_distance
                  if (outcome == OUTCOME_MAXIMUM) then
                     if (t >= 0.25_dp * probe_step .and. (t <= 4.0_dp * probe_step .or. .not. guessed)) exit
                     ! No probe at a step too short to resolve even the current curvature.
                     if (abs(b) * t**2 <= RESOLVABLE_CHANGE * abs(c_ref(merit))) exit
                     probe_step = min(t, st%problem%probe_distance)
                  else
                     ! no maximum within the full radius: from a guessed probe, look at the probe
                     ! distance before stepping that far
                     if (.not. guessed) exit
                     probe_step = st%problem%probe_distance
                  end if
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
               quasi_newton = .false.
               reuse = .false.
               formed = .false.
            end do probes
            st%memory%step_curvature = b
            ! The step itself stays inside the current (adaptive) radius around x_ref.
            if (walk%on) then
               reach = ball_step_from_products(walk%dd, walk%shift_d, walk%shift2_free + walk%shift2_fixed, &
                                               radius) * big_d
            else
               reach = ball_step(st%x - x_ref, d, radius) * big_d
            end if
            if (t > reach) then
               t = reach
               outcome = OUTCOME_LIMIT
            end if

            ! First passive constraint reached along the curved path c_j + gamma_j u + kappa_j u^2 / 2:
            ! gamma_j = g_j . d, kappa_j = q_j - g_j A^+ q_A = q_j - g_j . second_order.
            if (walk%on) then
               call walk_first_hit(t, hit, outcome)
            else
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
                     slope(j) = dot(gj(:, j), d)
                     if (bent) curvature(j) = q(j) - dot(gj(:, j), second_order)
                  end if
                  if (j > m) cycle
                  if (f%status(j) /= STATUS_PASSIVE) cycle
                  u = first_root(st%c(j), slope(j), curvature(j))
                  if (u * big_d < t) then
                     t = u * big_d
                     hit = j
                     outcome = OUTCOME_CONSTRAINT
                  end if
               end do
            end if
            u = t / big_d
            if (log_enabled(st%log, 3)) then
               write (line, '(a,i0,a,i0,a,es11.3,a,es11.3,a,es11.3,a,es11.3)') &
                  'step outcome ', outcome, ' active ', f%count, ' |g| ', dg, ' slope ', a, &
                  ' curvature ', b, ' length ', t
               if (quasi_newton) then
                  write (line(len_trim(line) + 1:), '(a,i0,a)') ' quasi-Newton (', st%memory%pairs, ' pairs)'
               else
                  write (line(len_trim(line) + 1:), '(a,2es11.3)') ' theta beta ', theta, beta
               end if
               call log_message(st%log, 3, line)
            end if
            st%memory%moved = st%memory%moved + t
            st%memory%step_length = st%memory%step_length + t
            st%memory%predicted_gain = st%memory%predicted_gain + a * t + b * t**2
            if (walk%on) then
               call walk_advance(u, hit, outcome == OUTCOME_CONSTRAINT)
               if (outcome /= OUTCOME_CONSTRAINT) exit steps
            else
               st%x = st%x + u * d - 0.5_dp * u**2 * second_order
               if (outcome /= OUTCOME_CONSTRAINT) exit steps
               do j = 1, merit
                  if (j <= m) then
                     if (f%status(j) > 0 .or. f%status(j) == STATUS_IGNORED) cycle
                  end if
                  st%c(j) = st%c(j) + u * slope(j) + 0.5_dp * u**2 * curvature(j)
               end do
            end if
            st%c(hit) = 0.0_dp
            reached(hit) = hit <= st%problem%m_user
            reuse = is_bound_row(st%problem, hit) .and. probes_made >= MAX_WALK_PROBES
            if (.not. walk%on) call walk_start()
         end do steps
         ! The step stops on the bounds it reaches; rounding may leave x a few ulps outside.
         st%x = clip_to_box(st%problem, st%x)
         ! A step to the model's maximum after a probe there (a refined probe on a quadratic
         ! merit) ends on that probe point but for rounding: it ends exactly there, and the
         ! driver's evaluation of x is the probe's, remembered.
         call move_onto_recent(st%x)

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
      !> On the bound walk only bound rows are active: q_A = 0 and the path is straight.
      subroutine quadratic_model(probe_step, reusing)
         real(dp), intent(in) :: probe_step
         logical, intent(in) :: reusing
         real(dp) :: probe_values(st%problem%m + 1), probe_point(st%problem%n), e(st%problem%n), e2
         integer :: jj

         if (reusing .and. walk%on) then
            ! only the merit is curved: the other outputs are bound rows or ignored
            q(m + 1) = rayleigh(m + 1) * big_d**2
         else
            q = 0.0_dp
            if (reusing) then
               q = rayleigh * big_d**2
            else if (probe_step > 0.0_dp) then
               probe_point = clip_to_box(st%problem, st%memory%reference_point + (probe_step / big_d) * d)
               ! A probe where an earlier point was, but for rounding, is that one (remembered).
               call move_onto_recent(probe_point)
               e = probe_point - st%memory%reference_point
               e2 = dot(e, e)
               if (e2 > 0.0_dp) then
                  call evaluate_values(st%problem, st%evaluator, probe_point, probe_values)
                  if (st%evaluator%status /= STATUS_OK) return
                  probes_made = probes_made + 1
                  do jj = 1, m + 1
                     ! the bound rows are linear
                     if (is_bound_row(st%problem, jj) .or. st%problem%kind(jj) == TYPE_IGNORED) cycle
                     rayleigh(jj) = 2.0_dp * (probe_values(jj) - st%memory%reference_values(jj) &
                                      - dot(st%jacobian(:, jj), e)) / e2
                  end do
                  q = rayleigh * big_d**2
               end if
            end if
         end if
         a = g_dot_d / big_d
         if (walk%on) then
            bent = .false.
            b = 0.5_dp * q(merit) / big_d**2
            return
         end if
         associate (f => st%factor)
            w = forward_solve(f, q(f%list(1:f%count)))
            ! The path is straight when no active output is curved along d (linear ones).
            bent = any(w /= 0.0_dp)
            second_order = active_combination(f, st%jacobian, backward_solve(f, w))
            ! g.d = g_merit.d for d in the null space, without the rounding residue A d.
            b = 0.5_dp * (q(merit) - dot(f%r(1:f%count, merit), w)) / big_d**2
         end associate
      end subroutine quadratic_model

      !> The first probe's distance: the probe distance, or twice the distance at which the last
      !> step's merit curvature b_last puts the maximum along d (a Barzilai-Borwein-like guess
      !> t = -a / (2 b_last)) when that is shorter.  The model's maximum then usually lies inside
      !> the probe, by a factor the refinement accepts, and the far probe is saved.
      real(dp) function first_probe_step() result(step)
         real(dp) :: guess, b_last
         step = st%problem%probe_distance
         if (reuse) return
         if (quasi_newton) then
            guess = 0.5_dp * big_d
         else
            b_last = st%memory%step_curvature
            if (b_last >= 0.0_dp) return
            guess = -(g_dot_d / big_d) / (2.0_dp * b_last)
            if (abs(b_last) * guess**2 <= RESOLVABLE_CHANGE * abs(st%memory%reference_values(m + 1))) return
         end if
         if (2.0_dp * guess >= step) return
         ! A probe a few roundings of x_ref long resolves no curvature at all.
         if (2.0_dp * guess <= PROBE_RESOLUTION * (1.0_dp + norm(st%memory%reference_point))) return
         step = 2.0_dp * guess
      end function first_probe_step

      !> x moved onto the recently evaluated point it is but for rounding, if any (its values
      !> are then remembered, and no point is evaluated twice).
      subroutine move_onto_recent(x)
         real(dp), intent(inout) :: x(:)
         integer :: slot
         slot = recent_near(st%evaluator, x, st%memory%reference_point, SAME_POINT)
         if (slot > 0) x = st%evaluator%recent_x(:, slot)
      end subroutine move_onto_recent

      !> d = th g + be d_minus, its length big_d and g_dot_d = g.d; on the bound walk in one
      !> pass over the free variables, which also gives the products of the trust-ball test
      !> and the first bound row of F that the straight path reaches.
      subroutine form_direction(th, be)
         real(dp), intent(in) :: th, be
         if (walk%on) then
            call walk_direction(th, be)
         else
            d = th * g + be * d_minus
            big_d = norm(d)
            g_dot_d = dot(g, d)
         end if
      end subroutine form_direction

      !> theta and beta of d = theta g + beta d_minus for the configured method, with the
      !> previous direction and gradient projected onto the current null space.  Falls back to
      !> steepest ascent when the conjugate direction would violate a boundary constraint or is
      !> not an ascent direction (g.d < 0, see the module header), or is only the rounding left
      !> when theta g and beta d_minus cancel.  formed: d (big_d, g_dot_d) is already
      !> theta g + beta d_minus.
      subroutine choose_direction(th, be, formed)
         real(dp), intent(out) :: th, be
         logical, intent(out) :: formed
         real(dp) :: g_minus(st%problem%n), y(st%problem%n), s(st%problem%n), gd
         real(dp) :: g_norm, d_minus_norm
         integer :: k

         formed = .false.
         quasi_newton = .false.
         th = 1.0_dp
         be = 0.0_dp
         if (walk%on) then
            call conjugate_coefficients(st%problem%method, walk%gg, walk%gm_gm, walk%ss, walk%s_y, walk%dm_y, &
                                        walk%y_g, walk%s_g, th, be)
         else
            ! The previous gradient and direction projected onto the null space, each an
            ! O(m n) replay and combination: only where they are used (a quasi-Newton step
            ! needs g_minus for its new pair at the first pass, and d_minus never).
            s = st%memory%reference_point - st%memory%previous_reference
            if (st%problem%method /= 2 .or. pass == 1 .or. st%memory%pairs == 0) then
               g_minus = null_projection(st%factor, st%jacobian, st%memory%previous_gradient)
               y = g - g_minus
            end if
            if (st%problem%method == 2) then
               call quasi_newton_direction(s, y)
               ! d is formed, and not theta g + beta d_minus (theta = 0 marks a direction
               ! other than steepest ascent); one from the pairs that was rejected leaves
               ! steepest ascent
               if (quasi_newton) then
                  th = 0.0_dp
                  formed = .true.
               end if
               if (st%memory%pairs > 0 .and. .not. quasi_newton) return
            end if
            if (.not. quasi_newton) then
               d_minus = null_projection(st%factor, st%jacobian, st%memory%previous_direction)
               call conjugate_coefficients(st%problem%method, dot(g, g), dot(g_minus, g_minus), &
                                           dot(s, s), dot(s, y), dot(d_minus, y), &
                                           dot(y, g), dot(s, g), th, be)
            end if
         end if
         if (.not. quasi_newton) then
            if (th == 1.0_dp .and. be == 0.0_dp) return
            call form_direction(th, be)
            formed = .true.
            if (walk%on) then
               g_norm = sqrt(walk%gg)
               d_minus_norm = sqrt(walk%dm_dm)
            else
               g_norm = norm(g)
               d_minus_norm = norm(d_minus)
            end if
            if (big_d <= CANCELLATION * (abs(th) * g_norm + abs(be) * d_minus_norm) .or. g_dot_d < 0.0_dp) then
               th = 1.0_dp
               be = 0.0_dp
               formed = .false.
               return
            end if
         end if
         ! The candidates: on the bound walk those of F (the others do not move).
         do k = 1, merge(walk%near_count, m, walk%on)
            if (walk%on) then
               j = walk%near(k)
            else
               j = k
            end if
            if (st%factor%status(j) /= STATUS_CANDIDATE) cycle
            gd = directional_derivative(st%problem, st%jacobian, j, d)
            if (negligible_rate(gd / big_d, st%problem%max_distance)) cycle
            if (st%problem%kind(j) == TYPE_EQUALITY .or. gd < 0.0_dp) then
               th = 1.0_dp
               be = 0.0_dp
               formed = .false.
               quasi_newton = .false.
               return
            end if
         end do
      end subroutine choose_direction

      !> Method 2: d = P H g from the curvature pairs, with the pair of the move to this
      !> linearisation (s, y = the change of g over it) added at the step's first pass; none
      !> after a step taken back or afresh (or before the first), where s and y say nothing of
      !> the curvature.  Sets quasi_newton when d is taken; without pairs d is left to the CG
      !> formulas.
      subroutine quasi_newton_direction(s, y)
         real(dp), intent(in) :: s(:), y(:)
         real(dp) :: hg(st%problem%n)
         if (pass == 1) then
            if (all(st%memory%previous_direction == 0.0_dp)) then
               st%memory%pairs = 0
            else
               call remember_pair(st%memory, s, -y)
            end if
         end if
         if (st%memory%pairs == 0) return
         hg = inverse_hessian_times(st%memory, g)
         d = null_projection(st%factor, st%jacobian, hg)
         big_d = norm(d)
         g_dot_d = dot(g, d)
         ! Pairs from before an active-set change can make H g leave the null space almost
         ! entirely: P H g is then the remainder of a cancellation.  Rounding only can make it
         ! fail to ascend.  Either way: steepest ascent.
         if (big_d <= CANCELLATION * norm(hg) .or. g_dot_d <= 0.0_dp) return
         quasi_newton = .true.
      end subroutine quasi_newton_direction

      ! ---- The bound walk (see the type bound_walk) ----

      !> Enter the bound walk after a general pass that continues from a constraint, when it
      !> applies: Q a signed permutation, only bound rows active (none to release), every
      !> general constraint ignored.  Sets up F, the bound rows' statuses and g, d on the fixed
      !> variables (0: the values of the general pass there are rounding).
      subroutine walk_start()
         integer :: i, jb, jj, k, side
         logical :: fixed

         associate (f => st%factor, p => st%problem, c => st%c)
            if (outcome /= OUTCOME_CONSTRAINT .or. .not. f%permutation%valid) return
            do k = 1, f%count
               jj = f%list(k)
               if (jj <= p%m_user .or. c(jj) > 1.0_dp) return
            end do
            if (any(f%status(1:p%m_user) /= STATUS_IGNORED)) return
            if (.not. allocated(walk%free)) then
               allocate (walk%free(n), walk%slot(n), walk%rows(2, n), walk%near(max(p%n_bounds, 1)))
               walk%rows = 0
               do jb = 1, p%n_bounds
                  side = merge(1, 2, p%bound_sign(jb) > 0.0_dp)
                  walk%rows(side, p%bound_variable(jb)) = p%m_user + jb
               end do
            end if
            walk%on = .true.
            walk%free_count = 0
            walk%shift2_fixed = 0.0_dp
            walk%near_count = 0
            do i = 1, n
               fixed = .false.
               do side = 1, 2
                  if (walk%rows(side, i) > 0) fixed = fixed .or. f%status(walk%rows(side, i)) > 0
               end do
               if (fixed) then
                  walk%slot(i) = 0
                  walk%shift2_fixed = walk%shift2_fixed + (st%x(i) - st%memory%reference_point(i))**2
                  g(i) = 0.0_dp
                  d(i) = 0.0_dp
                  cycle
               end if
               walk%free_count = walk%free_count + 1
               walk%free(walk%free_count) = i
               walk%slot(i) = walk%free_count
               call walk_classify(i)
            end do
            second_order = 0.0_dp
            walk%ss = sum((st%memory%reference_point - st%memory%previous_reference)**2)
            walk%products_valid = .false.
         end associate
      end subroutine walk_start

      !> Status of the bound rows of free variable i from their values (classify_constraints),
      !> the candidates noted in the near list.
      subroutine walk_classify(i)
         integer, intent(in) :: i
         integer :: side, jj
         do side = 1, 2
            jj = walk%rows(side, i)
            if (jj == 0) cycle
            if (st%factor%status(jj) == STATUS_IGNORED) cycle
            if (st%c(jj) <= 1.0_dp) then
               st%factor%status(jj) = STATUS_CANDIDATE
               walk%near_count = walk%near_count + 1
               walk%near(walk%near_count) = jj
            else
               st%factor%status(jj) = STATUS_PASSIVE
            end if
         end do
      end subroutine walk_classify

      !> Variable i leaves F (one of its bound rows became active); it no longer moves.
      subroutine walk_fix(i)
         integer, intent(in) :: i
         integer :: k
         k = walk%slot(i)
         walk%free(k) = walk%free(walk%free_count)
         walk%slot(walk%free(k)) = k
         walk%free_count = walk%free_count - 1
         walk%slot(i) = 0
         walk%shift2_fixed = walk%shift2_fixed + (st%x(i) - st%memory%reference_point(i))**2
         g(i) = 0.0_dp
         d(i) = 0.0_dp
         walk%products_valid = .false.
      end subroutine walk_fix

      !> The sums over F of the conjugate direction's products, with g = grad c_merit,
      !> g_minus = the previous gradient, d_minus = the previous direction, y = g - g_minus and
      !> s = st%memory%reference_point - previous st%memory%reference_point on F.
      subroutine walk_products()
         integer :: k, i
         real(dp) :: gi, gmi, dmi, si, yi
         walk%gg = 0.0_dp
         walk%gm_gm = 0.0_dp
         walk%s_y = 0.0_dp
         walk%dm_y = 0.0_dp
         walk%y_g = 0.0_dp
         walk%s_g = 0.0_dp
         walk%dm_dm = 0.0_dp
         do k = 1, walk%free_count
            i = walk%free(k)
            gi = g(i)
            gmi = st%memory%previous_gradient(i)
            dmi = st%memory%previous_direction(i)
            si = st%memory%reference_point(i) - st%memory%previous_reference(i)
            yi = gi - gmi
            walk%gg = walk%gg + gi * gi
            walk%gm_gm = walk%gm_gm + gmi * gmi
            walk%s_y = walk%s_y + si * yi
            walk%dm_y = walk%dm_y + dmi * yi
            walk%y_g = walk%y_g + yi * gi
            walk%s_g = walk%s_g + si * gi
            walk%dm_dm = walk%dm_dm + dmi * dmi
         end do
         walk%products_valid = .true.
      end subroutine walk_products

      !> refine_active_set on the bound walk: no active row is released (a bound row's multiplier
      !> gm_i / slope_j is constant during the phase, and was right when it was included), and
      !> the greedy inclusion is the closure of include_bound_closure over the candidates of F.
      !> dg = |g| = |grad c_merit on F|.
      subroutine walk_refine(dg_out)
         real(dp), intent(out) :: dg_out
         integer :: round, k, jj, i, included
         real(dp) :: rate
         logical :: accepted

         associate (f => st%factor, p => st%problem)
            if (.not. walk%products_valid) call walk_products()
            dg_out = sqrt(walk%gg)
            do round = 1, p%n_bounds + 1
               if (dg_out == 0.0_dp) return
               included = 0
               do k = 1, walk%near_count
                  jj = walk%near(k)
                  if (f%status(jj) /= STATUS_CANDIDATE) cycle
                  i = p%bound_variable(jj - p%m_user)
                  if (walk%slot(i) == 0) cycle  ! the other bound of a fixed variable
                  rate = p%bound_slope(jj - p%m_user) * g(i) / dg_out
                  if (.not. pushes_against(rate, f%norm(jj), p%max_distance)) cycle
                  call factor_include(f, jj, accepted)
                  if (accepted) then
                     call walk_fix(i)
                     included = included + 1
                  else
                     f%status(jj) = STATUS_PASSIVE
                  end if
               end do
               if (included == 0) return
               call walk_products()
               dg_out = sqrt(walk%gg)
            end do
         end associate
      end subroutine walk_refine

      !> form_direction on F: d_i = th g_i + be d_minus_i, |d|^2, g.d, (x - st%memory%reference_point).d, |x - st%memory%reference_point|^2
      !> on F, and the first passive bound row of F that the straight path x + u d reaches (the
      !> linear root u = -c_j / (slope_j d_i)).
      subroutine walk_direction(th, be)
         real(dp), intent(in) :: th, be
         integer :: k, i, side, jj
         real(dp) :: di, shift, rate, root

         walk%dd = 0.0_dp
         walk%shift_d = 0.0_dp
         walk%shift2_free = 0.0_dp
         walk%root = huge(1.0_dp)
         walk%root_row = 0
         g_dot_d = 0.0_dp
         associate (p => st%problem, status => st%factor%status)
            do k = 1, walk%free_count
               i = walk%free(k)
               di = th * g(i) + be * st%memory%previous_direction(i)
               d(i) = di
               walk%dd = walk%dd + di * di
               g_dot_d = g_dot_d + g(i) * di
               shift = st%x(i) - st%memory%reference_point(i)
               walk%shift_d = walk%shift_d + shift * di
               walk%shift2_free = walk%shift2_free + shift * shift
               do side = 1, 2
                  jj = walk%rows(side, i)
                  if (jj == 0) cycle
                  if (status(jj) /= STATUS_PASSIVE) cycle
                  rate = p%bound_slope(jj - p%m_user) * di
                  if (rate == 0.0_dp) cycle
                  root = -st%c(jj) / rate
                  if (root > 0.0_dp .and. root < walk%root) then
                     walk%root = root
                     walk%root_row = jj
                  end if
               end do
            end do
         end associate
         big_d = sqrt(walk%dd)
      end subroutine walk_direction

      !> The general loop's first hit on the bound walk: the first passive bound row of F that
      !> the path reaches (from walk_direction); the merit's rate is g.d.
      subroutine walk_first_hit(t_hit, hit_row, outcome_hit)
         real(dp), intent(inout) :: t_hit
         integer, intent(out) :: hit_row
         integer, intent(inout) :: outcome_hit

         hit_row = 0
         if (walk%root_row > 0) then
            if (walk%root * big_d < t_hit) then
               t_hit = walk%root * big_d
               hit_row = walk%root_row
               outcome_hit = OUTCOME_CONSTRAINT
            end if
         end if
         slope(merit) = g_dot_d
         curvature(merit) = q(merit)
      end subroutine walk_first_hit

      !> The step x + u d on the bound walk; when it continues from a constraint (outputs), the
      !> moving outputs follow (c_j + u slope_j + u^2 kappa_j / 2, the hit exactly 0) and the
      !> bound rows of F are classified.
      subroutine walk_advance(u_step, hit_row, outputs)
         real(dp), intent(in) :: u_step
         integer, intent(in) :: hit_row
         logical, intent(in) :: outputs
         integer :: k, i, side, jj

         associate (p => st%problem, c => st%c)
            if (.not. outputs) then
               do k = 1, walk%free_count
                  i = walk%free(k)
                  st%x(i) = st%x(i) + u_step * d(i)
               end do
               return
            end if
            walk%near_count = 0
            do k = 1, walk%free_count
               i = walk%free(k)
               st%x(i) = st%x(i) + u_step * d(i)
               do side = 1, 2
                  jj = walk%rows(side, i)
                  if (jj == 0) cycle
                  if (st%factor%status(jj) == STATUS_IGNORED) cycle
                  if (jj == hit_row) then
                     c(jj) = 0.0_dp
                  else
                     c(jj) = c(jj) + u_step * (p%bound_slope(jj - p%m_user) * d(i))
                  end if
               end do
               call walk_classify(i)
            end do
            c(merit) = c(merit) + u_step * slope(merit) + 0.5_dp * u_step**2 * curvature(merit)
         end associate
      end subroutine walk_advance

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
               if (negligible_rate(rate, st%problem%max_distance)) cycle
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
               if (.not. pushes_against(rate, f%norm(j), p%max_distance)) cycle
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

   !> A candidate of rate g_j . p / |p| (p the projected merit gradient) and gradient norm
   !> norm_j that the greedy includes: a significant rate against its boundary.
   pure logical function pushes_against(rate, gradient_norm, max_distance)
      real(dp), intent(in) :: rate, gradient_norm, max_distance
      pushes_against = .not. (negligible_rate(rate, max_distance) .or. rate / gradient_norm >= 0.0_dp)
   end function pushes_against

   !> A rate of change (per unit distance) that changes its output by less than
   !> SIGNIFICANT_CHANGE tolerances over the full radius: the greedy and the direction's
   !> safeguard ignore such a candidate.
   pure logical function negligible_rate(rate, max_distance)
      real(dp), intent(in) :: rate, max_distance
      negligible_rate = abs(rate) * max_distance < SIGNIFICANT_CHANGE
   end function negligible_rate

   !> Keep the curvature pair (s, y) in the ring of the last CURVATURE_PAIRS when s.y > 0 (else
   !> H would not stay positive definite).
   pure subroutine remember_pair(mem, s, y)
      type(iteration_memory), intent(inout) :: mem
      real(dp), intent(in) :: s(:), y(:)
      integer :: slot
      if (dot(s, y) <= PAIR_CURVATURE * norm(s) * norm(y)) return
      slot = modulo(mem%newest_pair, size(mem%pair_s, 2)) + 1
      mem%pair_s(:, slot) = s
      mem%pair_y(:, slot) = y
      mem%newest_pair = slot
      mem%pairs = min(mem%pairs + 1, size(mem%pair_s, 2))
   end subroutine remember_pair

   !> H v for the L-BFGS inverse Hessian of the kept pairs (the two-loop recursion, Nocedal &
   !> Wright, Algorithm 7.4), from H0 = (s.y / y.y) I of the newest pair.
   pure function inverse_hessian_times(mem, v) result(r)
      type(iteration_memory), intent(in) :: mem
      real(dp), intent(in) :: v(:)
      real(dp) :: r(size(v)), alpha(size(mem%pair_s, 2)), rho(size(mem%pair_s, 2)), beta
      integer :: i, slot

      r = v
      do i = 0, mem%pairs - 1   ! newest first
         slot = modulo(mem%newest_pair - 1 - i, size(mem%pair_s, 2)) + 1
         rho(slot) = 1.0_dp / dot(mem%pair_y(:, slot), mem%pair_s(:, slot))
         alpha(slot) = rho(slot) * dot(mem%pair_s(:, slot), r)
         r = r - alpha(slot) * mem%pair_y(:, slot)
      end do
      associate (s => mem%pair_s(:, mem%newest_pair), y => mem%pair_y(:, mem%newest_pair))
         r = (dot(s, y) / dot(y, y)) * r
      end associate
      do i = mem%pairs - 1, 0, -1   ! oldest first
         slot = modulo(mem%newest_pair - 1 - i, size(mem%pair_s, 2)) + 1
         beta = rho(slot) * dot(mem%pair_y(:, slot), r)
         r = r + (alpha(slot) - beta) * mem%pair_s(:, slot)
      end do
   end function inverse_hessian_times

   !> theta and beta of the conjugate direction d = theta g + beta d_minus from the scalar
   !> products of g, g_minus (previous gradient), d_minus (previous direction), y = g - g_minus
   !> and s (the move between the last two linearisations); unchanged (steepest ascent,
   !> theta = 1, beta = 0 on entry) where a denominator vanishes.
   !>   1 modified spectral CG: theta = -(d_minus.y) / |g_minus|^2,  beta = |g|^2 / |g_minus|^2;
   !>   2 spectral CG:          theta = -(s.s) / (s.y),  beta = (-theta y.g - s.g) / (d_minus.y)
   !>                           (method 2 without a curvature pair, and on the bound walk);
   !>   3 Fletcher-Reeves:      beta = |g|^2 / |g_minus|^2.
   pure subroutine conjugate_coefficients(method, gg, gm_gm, ss, sy, dm_y, y_g, s_g, theta, beta)
      integer, intent(in) :: method
      real(dp), intent(in) :: gg, gm_gm, ss, sy, dm_y, y_g, s_g
      real(dp), intent(inout) :: theta, beta

      select case (method)
      case (1)
         if (gm_gm > 1.0e-12_dp) then
            theta = -dm_y / gm_gm
            beta = gg / gm_gm
         end if
      case (2)
         if (abs(sy) > 1.0e-12_dp .and. abs(dm_y) > 1.0e-12_dp) then
            theta = -ss / sy
            beta = (-theta * y_g - s_g) / dm_y
         end if
      case (3)
         if (gm_gm > 0.0_dp) beta = gg / gm_gm
      end select
   end subroutine conjugate_coefficients

end module optgra_optimisation
