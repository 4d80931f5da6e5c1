!> Step lengths: where a path leaves the trust ball, or first reaches a constraint boundary.
module optgra_steps
   use optgra_kinds
   use optgra_vector, only: dot, norm
   implicit none
   private

   public :: ball_step, ball_step_from_products, smallest_positive_root, first_root

contains

   !> Largest t >= 0 with |delta + t d| <= radius, i.e. the positive root of
   !>     (d.d) t^2 + 2 (delta.d) t + (delta.delta - radius^2) = 0,
   !> computed without cancellation.  Zero when delta is already outside the ball.  For a d so
   !> long that the products overflow, the root along d / |d|, divided by |d|.
   pure real(dp) function ball_step(delta, d, radius) result(t)
      real(dp), intent(in) :: delta(:), d(:), radius
      real(dp) :: dd, delta_delta, length
      dd = dot(d, d)
      delta_delta = dot(delta, delta)
      if (dd == 0.0_dp) then
         t = 0.0_dp
      else if (dd * max(delta_delta, radius**2) < 0.25_dp * huge(1.0_dp)) then
         t = ball_step_from_products(dd, dot(delta, d), delta_delta, radius)
      else
         length = norm(d)
         t = ball_step_from_products(1.0_dp, dot(delta, d / length), delta_delta, radius) / length
      end if
   end function ball_step

   !> ball_step from the scalar products d.d, delta.d and delta.delta.
   pure real(dp) function ball_step_from_products(dd, delta_d, delta_delta, radius) result(t)
      real(dp), intent(in) :: dd, delta_d, delta_delta, radius
      real(dp) :: a, b, c, root

      t = 0.0_dp
      a = dd
      b = delta_d
      c = delta_delta - radius**2
      if (a == 0.0_dp .or. c >= 0.0_dp) return
      if (.not. (c >= -huge(1.0_dp))) then
         ! radius^2 overflows (a radius beyond 1e154): |delta| is negligible against it
         t = max(radius / sqrt(a) - b / a, 0.0_dp)
         return
      end if
      root = sqrt(b**2 - a * c)
      if (b >= 0.0_dp) then
         t = -c / (b + root)
      else
         t = (root - b) / a
      end if
      t = max(t, 0.0_dp)
   end function ball_step_from_products

   !> Smallest u > 0 with a2 u^2 + a1 u + a0 = 0, or huge(1.0_dp) when there is none.
   !> Uses q = -(a1 + sign(a1) sqrt(disc)) / 2 and the roots q / a2, a0 / q, so that a
   !> noise-sized a2 leaves the nearly linear root a0 / q ~ -a0 / a1 accurate.
   pure real(dp) function smallest_positive_root(a2, a1, a0) result(u)
      real(dp), intent(in) :: a2, a1, a0
      real(dp) :: disc, q, roots(2)

      u = huge(1.0_dp)
      if (a2 == 0.0_dp) then
         if (a1 /= 0.0_dp) then
            roots(1) = -a0 / a1
            if (roots(1) > 0.0_dp) u = roots(1)
         end if
         return
      end if
      disc = a1**2 - 4.0_dp * a2 * a0
      if (disc < 0.0_dp) return
      q = -0.5_dp * (a1 + sign(sqrt(disc), a1))
      roots = huge(1.0_dp)
      roots(1) = q / a2
      if (q /= 0.0_dp) roots(2) = a0 / q
      if (roots(1) > 0.0_dp) u = min(u, roots(1))
      if (roots(2) > 0.0_dp) u = min(u, roots(2))
   end function smallest_positive_root

   !> Smallest u > 0 where c + slope u + curvature u^2 / 2 reaches zero, or huge(1.0_dp) when
   !> it never does; the linear case without the quadratic formula.
   pure real(dp) function first_root(c, slope, curvature) result(u)
      real(dp), intent(in) :: c, slope, curvature

      u = huge(1.0_dp)
      if (0.5_dp * curvature == 0.0_dp) then
         if (slope == 0.0_dp) return
         u = -c / slope
         if (.not. u > 0.0_dp) u = huge(1.0_dp)
      else
         u = smallest_positive_root(0.5_dp * curvature, slope, c)
      end if
   end function first_root

end module optgra_steps
