@escalate.deploy
Feature: The demo shop serves its customers
  The shop's pages answer, its login works, and its status API reports recent orders.
  Runbook: https://wiki.example.com/runbooks/demo-shop

  Scenario: The home page renders
    When I go to "/"
    Then the request should succeed
    And I should see "Welcome to the Escalator demo shop"
    And the response time should be less than 1000 ms

  Scenario: A customer can sign in
    When I go to "/login"
    And I fill in "Username" with "ops"
    And I fill in "Password" with "${shop_password}"
    And I press "Sign in"
    Then the response status should be 200
    And I should see "Hello, ops."

  Scenario: Pages are served as HTML
    When I fetch headers from "/"
    Then the "Content-Type" header should contain "text/html"

  @warning
  Scenario: The status API reports recent orders
    When I go to "/api/status"
    Then the JSON at "$.status" should be "ok"
    And the JSON at "$.last_order" should be a time within the last 60 minutes

  Scenario: An unknown page is a clean 404
    When I go to "/no-such-page"
    Then the request should fail
    And the response status should be 404
