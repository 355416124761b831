@escalate.converge
Feature: The demo shop's health endpoint
  The load balancer takes the shop out of rotation when /health stops answering 200 quickly.

  Scenario: Health answers quickly
    When I request "/health" 5 times
    Then at least 100% of the requests should succeed
    And the 95th percentile response time should be less than 1000 ms

  Scenario: Health says OK
    When I go to "/health"
    Then the response status should be 200
    And I should see "OK"
